"""`fleet appset diff`: the review plan against a fleet.sim hub, and its exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from fleet.api.resources import APPLICATION, APPSET_LABEL, CLUSTER, RESOURCES_FINALIZER
from fleet.appset_diff import appset_diff
from fleet.cli import build_parser
from fleet.kube import Credentials, build_api_client, request_json
from tests.conftest import MakeRepo
from tests.controllers.appset_support import app_template, list_appset, sim_hub, sim_hub_kubeconfig
from tests.git.support import GitDaemon, Upstream

pytestmark = pytest.mark.anyio


async def put_cluster(hub: ApiClient, ns: str, name: str, **labels: str) -> None:
    body = {
        "apiVersion": "fleet.gitops.dev/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "server": f"https://{name}.example",
            "secretRef": {"name": f"{name}-credentials"},
            "labels": labels,
        },
    }
    await request_json(hub, "POST", CLUSTER.collection(ns), body=body)


async def put_app(hub: ApiClient, ns: str, cluster: str, revision: str = "main") -> None:
    """An Application as the controller would have generated it for `cluster`."""
    template = app_template(revision)
    spec = json.loads(json.dumps(template["spec"]).replace("{{name}}", cluster))
    body = {
        "apiVersion": "fleet.gitops.dev/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": f"{cluster}-guestbook",
            "namespace": ns,
            "labels": {APPSET_LABEL: "gb"},
            "finalizers": [RESOURCES_FINALIZER],
        },
        "spec": spec,
    }
    await request_json(hub, "POST", APPLICATION.collection(ns), body=body)


def write(tmp_path: Path, doc: dict[str, Any]) -> str:
    path = tmp_path / "appset.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


async def diff(hub: ApiClient, ns: str, path: str, output: str = "text") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await appset_diff(path, hub=hub, namespace=ns, output=output, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


async def test_diff_lists_creates_updates_and_deletes(tmp_path: Path) -> None:
    async with sim_hub(tmp_path) as (hub, ns):
        await put_cluster(hub, ns, "east", env="prod")
        await put_cluster(hub, ns, "west", env="prod")
        await put_app(hub, ns, "west", "main")
        await put_app(hub, ns, "gone", "main")
        doc = {
            "apiVersion": "fleet.gitops.dev/v1alpha1",
            "kind": "ApplicationSet",
            "metadata": {"name": "gb", "namespace": ns},
            "spec": {
                "generators": [{"clusters": {"selector": {"matchLabels": {"env": "prod"}}}}],
                "template": app_template("v2"),
            },
        }
        code, out, err = await diff(hub, ns, write(tmp_path, doc))
        assert (code, err) == (0, "")
        lines = out.splitlines()
        assert "+ east-guestbook (east/guestbook)" in lines
        assert "~ west-guestbook" in lines
        assert '    spec.source.targetRevision: "main" -> "v2"' in lines
        assert "- gone-guestbook" in lines
        assert lines[0].endswith(
            "1 to create, 1 to update, 1 to delete, 0 held back, 0 kept, 0 unchanged"
        )


async def test_diff_shows_deletions_frozen_by_an_incomplete_expansion(tmp_path: Path) -> None:
    async with sim_hub(tmp_path) as (hub, ns):
        await put_app(hub, ns, "west")
        await put_app(hub, ns, "gone")
        doc = list_appset("gb", [{"name": "west"}, {"name": "Bad_Name"}], namespace=ns)
        code, out, _ = await diff(hub, ns, write(tmp_path, doc))
        assert code == 0
        assert any(line.startswith("! error: ") and "Bad_Name" in line for line in out.splitlines())
        assert (
            "= gone-guestbook would be kept because the expansion is incomplete: deletions are "
            "suspended until every generator evaluates"
        ) in out.splitlines()
        assert "- gone-guestbook" not in out.splitlines()


async def test_diff_shows_deletions_held_back_by_the_budget(tmp_path: Path) -> None:
    async with sim_hub(tmp_path) as (hub, ns):
        for name in ("a", "b", "c"):
            await put_app(hub, ns, name)
        doc = list_appset("gb", [], namespace=ns)
        code, out, _ = await diff(hub, ns, write(tmp_path, doc))
        assert code == 0
        lines = out.splitlines()
        assert "- a-guestbook" in lines
        held = [line for line in lines if "would be held back by the deletion budget" in line]
        assert [line.split()[1] for line in held] == ["b-guestbook", "c-guestbook"]
        assert "(20%: 1 of 3 per window)" in held[0]


async def test_diff_exits_2_naming_the_field_on_a_bad_appset(tmp_path: Path) -> None:
    async with sim_hub(tmp_path) as (hub, ns):
        doc = list_appset("gb", [{"name": "west"}], namespace=ns)
        doc["spec"]["generators"][0]["list"]["elementz"] = []
        path = write(tmp_path, doc)
        code, out, err = await diff(hub, ns, path)
        assert (code, out) == (2, "")
        assert len(err.splitlines()) == 1
        assert path in err and "spec.generators[0].list" in err and "elementz" in err


async def test_diff_exits_1_when_the_hub_refuses(tmp_path: Path) -> None:
    async with sim_hub_kubeconfig(tmp_path) as (hub, ns, _):
        doc = list_appset("gb", [{"name": "west"}], namespace=ns)
        path = write(tmp_path, doc)
        wrong = build_api_client(
            Credentials(
                server=str(hub.configuration.host),
                token="not-a-valid-token",
                ca_pem=Path(hub.configuration.ssl_ca_cert).read_bytes()
                if hub.configuration.ssl_ca_cert
                else None,
            )
        )
        async with wrong:
            code, out, err = await diff(wrong, ns, path)
        assert (code, out) == (1, "")
        assert err.startswith("fleet: hub: ")


async def test_diff_command_prints_json_through_the_cli_declaration(tmp_path: Path) -> None:
    async with sim_hub_kubeconfig(tmp_path) as (hub, ns, kubeconfig):
        await put_app(hub, ns, "gone")
        path = write(tmp_path, list_appset("gb", [{"name": "east"}], namespace=ns))
        args = build_parser().parse_args(
            [
                "appset",
                "diff",
                path,
                "--hub-kubeconfig",
                str(kubeconfig),
                "--namespace",
                ns,
                "-o",
                "json",
            ]
        )
        out = io.StringIO()

        def run() -> int:
            import contextlib

            with contextlib.redirect_stdout(out):
                code: int = args.handler(args)
            return code

        assert await anyio.to_thread.run_sync(run) == 0
        [result] = json.loads(out.getvalue())["applicationSets"]
        assert result["create"] == [{"name": "east-guestbook", "destination": "east/guestbook"}]
        assert result["delete"] == ["gone-guestbook"]
        assert result["complete"] is True


def git_appset(ns: str, url: str) -> dict[str, Any]:
    return {
        "apiVersion": "fleet.gitops.dev/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "gitapps", "namespace": ns},
        "spec": {
            "generators": [{"git": {"repoURL": url, "directories": [{"path": "apps/*"}]}}],
            "template": {
                "metadata": {"name": "{{path.basename}}"},
                "spec": {
                    "project": "default",
                    "source": {"repoURL": url, "path": "{{path}}"},
                    "destination": {"name": "east", "namespace": "{{path.basename}}"},
                },
            },
        },
    }


async def test_diff_reads_git_from_a_local_repo_mapping(
    tmp_path: Path, make_repo: MakeRepo
) -> None:
    repo = make_repo({"apps/one/cm.yaml": "a: 1\n"})
    url = "https://git.example/apps.git"
    async with sim_hub(tmp_path) as (hub, ns):
        out = io.StringIO()
        code = await appset_diff(
            write(tmp_path, git_appset(ns, url)),
            hub=hub,
            namespace=ns,
            repo_mappings=[f"{url}={repo}"],
            stdout=out,
        )
        assert code == 0
        assert "+ one (east/one)" in out.getvalue().splitlines()


async def test_diff_fetches_git_when_no_local_copy_is_given(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    Upstream(served, "apps").commit({"apps/two/cm.yaml": "b: 2\n"})
    daemon = GitDaemon(served)
    daemon.start()
    try:
        async with sim_hub(tmp_path) as (hub, ns):
            code, out, _ = await diff(hub, ns, write(tmp_path, git_appset(ns, daemon.url("apps"))))
            assert code == 0
            assert "+ two (east/two)" in out.splitlines()
    finally:
        daemon.stop()
