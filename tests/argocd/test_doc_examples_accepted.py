"""Argo CD's documented examples, verbatim, are accepted by the argoproj.io CRDs fleet ships
(crds/argocd/): every ApplicationSet of tests/fixtures/argocd_docs and every Application Argo CD
generates from them, created with strict field validation (what `kubectl apply` asks for) as a
server-side dry run, on fleet.sim and the real kube-apiserver."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from fleet.api.crds import install_crds
from fleet.api.group import ARGOCD
from fleet.kube import Credentials, KubeError, build_api_client, request_json
from tests.clusters.harness import Env

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "argocd_docs"

pytestmark = pytest.mark.anyio

REFUSED_BY_ARGO_CD_TOO = {
    # Not an RFC 1123 name: Kubernetes refuses it for any resource.
    "list-elementsyaml-matrix-git/appset.yaml elementsYaml",
    # The example's template has no spec.project, which Argo CD's Application CRD requires.
    "git-files-list-file-fasttemplate/expected.yaml engineering-dev-guestbook",
    "git-files-list-file-fasttemplate/expected.yaml engineering-prod-guestbook",
}
"""Documented examples the real Argo CD refuses as well (its API server would): refused here."""


def documents() -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for name in ("appset.yaml", "expected.yaml"):
        for path in sorted(FIXTURES.glob(f"*/{name}")):
            for doc in yaml.safe_load_all(path.read_text()):
                for item in doc if isinstance(doc, list) else [doc]:
                    if isinstance(item, dict) and item.get("apiVersion") == ARGOCD.api_version:
                        out.append((f"{path.parent.name}/{name}", item))
    return out


@pytest.fixture(params=["sim", "real"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ApiClient]:
    if request.param == "real":
        env: Env = request.getfixturevalue("shared_real")
        api = build_api_client(
            Credentials(server=env.hub.server, token=env.hub.token, ca_pem=env.hub.ca_pem)
        )
        async with api:
            await install_crds(api, flavour=ARGOCD)
            yield api
        return
    from fleet.sim import SimServer

    async with SimServer(names=["hub"], port_per_cluster=True, kubeconfig_dir=tmp_path) as sim:
        c = sim.clusters["hub"]
        api = build_api_client(
            Credentials(server=c.server, token=c.token, ca_pem=base64.b64decode(c.ca_data))
        )
        async with api:
            await install_crds(api, flavour=ARGOCD)
            yield api


async def test_every_documented_applicationset_and_application_is_accepted(
    hub: ApiClient,
) -> None:
    found = documents()
    assert len(found) > 45, "the fixtures moved"
    refused: dict[str, str] = {}
    for where, doc in found:
        kind = ARGOCD.resource(str(doc["kind"]))
        body = {**doc, "metadata": {**doc["metadata"], "namespace": "default"}}
        try:
            await request_json(
                hub,
                "POST",
                kind.collection("default"),
                body=body,
                query={"dryRun": "All", "fieldValidation": "Strict"},
            )
        except KubeError as error:
            refused[f"{where} {doc['metadata'].get('name')}"] = error.message
    unexpected = {k: v for k, v in refused.items() if k not in REFUSED_BY_ARGO_CD_TOO}
    assert not unexpected, "\n".join(f"{k}: {v}" for k, v in unexpected.items())
    assert set(refused) == REFUSED_BY_ARGO_CD_TOO
