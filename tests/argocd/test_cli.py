"""`fleet app ... --api argocd` reads Argo CD's Applications and AppProjects in `argocd`."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from pathlib import Path

import pytest

from fleet.api.crds import install_crds
from fleet.api.group import ARGOCD
from fleet.kube import Credentials, build_api_client, request_json

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.anyio


async def fleet(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fleet.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "KUBECONFIG": ""},
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_app_list_and_get_read_argo_cd_applications_in_argocd(tmp_path: Path) -> None:
    from fleet.sim import SimServer

    async with SimServer(names=["hub"], port_per_cluster=True, kubeconfig_dir=tmp_path) as sim:
        c = sim.clusters["hub"]
        api = build_api_client(
            Credentials(server=c.server, token=c.token, ca_pem=base64.b64decode(c.ca_data))
        )
        async with api:
            await install_crds(api, flavour=ARGOCD)
            await request_json(
                api, "POST", "/api/v1/namespaces", body={"metadata": {"name": "argocd"}}
            )
            await request_json(
                api,
                "POST",
                ARGOCD.application.collection("argocd"),
                body={
                    "apiVersion": ARGOCD.api_version,
                    "kind": "Application",
                    "metadata": {"name": "guestbook", "namespace": "argocd"},
                    "spec": {
                        "project": "default",
                        "source": {"repoURL": "https://example.com/r.git", "path": "guestbook"},
                        "destination": {"name": "in-cluster", "namespace": "guestbook"},
                    },
                    "status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}},
                },
            )
        hub = ["--hub-kubeconfig", str(c.kubeconfig)]
        code, out, err = await fleet("app", "list", "--api", "argocd", *hub)
        assert code == 0, err
        assert "guestbook" in out and "Synced" in out
        code, out, err = await fleet("app", "get", "guestbook", "--api", "argocd", *hub)
        assert code == 0, err
        assert "guestbook" in out
        code, out, err = await fleet("app", "list", *hub)
        assert code != 0
        assert "fleet.gitops.dev" in err


APPSET = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: guestbook
  namespace: argocd
spec:
  goTemplate: true
  generators:
    - clusters: {}
  template:
    metadata:
      name: '{{.name}}-guestbook'
    spec:
      project: default
      source:
        repoURL: https://github.com/argoproj/argocd-example-apps.git
        targetRevision: HEAD
        path: guestbook
      destination:
        server: '{{.server}}'
        namespace: guestbook
"""


async def test_appset_diff_plans_against_argo_cd_cluster_secrets(tmp_path: Path) -> None:
    from fleet.sim import SimServer

    async with SimServer(names=["hub"], port_per_cluster=True, kubeconfig_dir=tmp_path) as sim:
        c = sim.clusters["hub"]
        api = build_api_client(
            Credentials(server=c.server, token=c.token, ca_pem=base64.b64decode(c.ca_data))
        )
        async with api:
            await install_crds(api, flavour=ARGOCD)
            await request_json(
                api, "POST", "/api/v1/namespaces", body={"metadata": {"name": "argocd"}}
            )
            data = {"name": "prod", "server": "https://prod.example.com", "config": "{}"}
            await request_json(
                api,
                "POST",
                "/api/v1/namespaces/argocd/secrets",
                body={
                    "metadata": {
                        "name": "cluster-prod",
                        "labels": {"argocd.argoproj.io/secret-type": "cluster"},
                    },
                    "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
                },
            )
        path = tmp_path / "appset.yaml"
        path.write_text(APPSET)
        code, out, err = await fleet(
            "appset", "diff", str(path), "--api", "argocd", "--hub-kubeconfig", str(c.kubeconfig)
        )
        assert code == 0, err
        assert "prod-guestbook" in out
