"""`fleet app diff`: Git (a real repository served by `git daemon`) rendered and compared with a
registered fleet.sim member through the sync engine, as the controller would apply it."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git
import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from fleet.api.cluster import ClusterSpec, SecretRef, cluster_object
from fleet.api.resources import CLUSTER
from fleet.clusters.credentials import SecretCredentials, fleet_secret_data
from fleet.kube import Credentials, build_api_client, request_json
from fleet.sync.engine import SyncEngine
from fleet.sync.spec import AppSpec
from tests.appcli.conftest import Hub, application, fleet_app, get_app, put_app
from tests.conftest import commit
from tests.git.support import GitDaemon, free_port

pytestmark = pytest.mark.anyio

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: red
  size: large
"""
SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: hunter2-in-git
"""


@dataclass
class Deployed:
    hub: Hub
    member: ApiClient
    repo: Path
    url: str

    @property
    def ns(self) -> str:
        """The destination namespace on the member (unique: the real member is shared)."""
        return self.hub.namespace


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[GitDaemon]:
    server = GitDaemon(tmp_path)
    server.start()
    yield server
    server.stop()


async def register_member(hub: Hub) -> None:
    """A Cluster `member` and its fleet-format Secret on the hub (what `fleet cluster add`
    stores)."""
    creds = SecretCredentials(token=hub.member_token, ca_pem=hub.member_ca)
    await request_json(
        hub.api,
        "POST",
        f"/api/v1/namespaces/{hub.namespace}/secrets",
        body={
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "cluster-member"},
            "data": fleet_secret_data(creds),
        },
    )
    spec = ClusterSpec(hub.member_server, SecretRef("cluster-member"))
    await request_json(
        hub.api,
        "POST",
        CLUSTER.collection(hub.namespace),
        body=cluster_object("member", hub.namespace, spec),
    )


async def sync_with_engine(member: ApiClient, app: dict[str, Any], texts: list[str]) -> None:
    """Apply the manifests as the controller's sync does (fleet's field manager, tracking)."""
    manifests = [yaml.safe_load(text) for text in texts]
    engine = SyncEngine(member, AppSpec.from_application(app), cluster="member")
    operation = await engine.sync(manifests, "main")
    assert operation.phase == "Succeeded", operation.message


@pytest.fixture
async def deployed(
    hub: Hub, daemon: GitDaemon, make_repo: Callable[..., Path]
) -> AsyncIterator[Deployed]:
    """App `web` (ConfigMap `settings` in git) synced to the member, which is registered."""
    repo = make_repo({"guestbook/settings.yaml": CONFIGMAP})
    url = f"git://127.0.0.1:{daemon.port}/{repo.name}"
    await register_member(hub)
    dest = {"name": "member", "namespace": hub.namespace}
    await put_app(hub, application("web", hub.namespace, repo=url, destination=dest))
    creds = Credentials(server=hub.member_server, token=hub.member_token, ca_pem=hub.member_ca)
    async with build_api_client(creds) as member:
        await request_json(
            member, "POST", "/api/v1/namespaces", body={"metadata": {"name": hub.namespace}}
        )
        await sync_with_engine(member, await get_app(hub, "web"), [CONFIGMAP])
        yield Deployed(hub, member, repo, url)


async def drift(d: Deployed, patch: dict[str, Any]) -> None:
    """Someone edits the ConfigMap on the cluster (`kubectl edit`)."""
    await request_json(
        d.member,
        "PATCH",
        f"/api/v1/namespaces/{d.ns}/configmaps/settings",
        body=patch,
        content_type="application/merge-patch+json",
    )


def diff_args(d: Deployed, *extra: str) -> list[str]:
    return ["diff", "web", *extra, *d.hub.args()]


async def test_diff_prints_nothing_when_in_sync(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await fleet_app(*diff_args(deployed, "--exit-code")) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


async def test_diff_shows_the_drifted_field_of_a_configmap(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    await drift(deployed, {"data": {"color": "blue"}})
    assert await fleet_app(*diff_args(deployed)) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"===== /ConfigMap {deployed.ns}/settings ======"
    assert lines[1:3] == ["--- live", "+++ desired"]
    changed = [line for line in lines[3:] if line[:1] in "+-"]
    assert changed == ["-  color: blue", "+  color: red"]
    for volatile in ("managedFields", "resourceVersion", "uid", "creationTimestamp"):
        assert volatile not in out


async def test_diff_exit_code_is_1_when_there_are_differences(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    await drift(deployed, {"data": {"size": "small"}})
    assert await fleet_app(*diff_args(deployed, "--exit-code")) == 1
    assert "-  size: small" in capsys.readouterr().out


async def test_diff_shows_a_new_commit_before_it_is_synced(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    commit(deployed.repo, {"guestbook/settings.yaml": CONFIGMAP.replace("red", "green")})
    assert await fleet_app(*diff_args(deployed)) == 0
    changed = [line for line in capsys.readouterr().out.splitlines() if line[:2] in ("+ ", "- ")]
    assert changed == ["-  color: red", "+  color: green"]


async def test_diff_shows_a_missing_object_as_added(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = CONFIGMAP.replace("name: settings", "name: extra")
    commit(deployed.repo, {"guestbook/extra.yaml": extra})
    assert await fleet_app(*diff_args(deployed)) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"===== /ConfigMap {deployed.ns}/extra ======\n--- live\n+++ desired\n")
    assert "+kind: ConfigMap" in out
    assert "settings" not in out


async def test_diff_masks_secret_values_and_prints_no_credential(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    secret_v2 = SECRET.replace("hunter2-in-git", "rotated-in-git")
    await sync_with_engine(deployed.member, await get_app(deployed.hub, "web"), [CONFIGMAP, SECRET])
    commit(deployed.repo, {"guestbook/db.yaml": secret_v2})
    assert await fleet_app(*diff_args(deployed)) == 0
    out = capsys.readouterr().out
    assert f"===== /Secret {deployed.ns}/db ======" in out
    assert "-  password: ++++++++\n" in out and "+  password: +++++++++\n" in out
    encoded = [base64.b64encode(s.encode()).decode() for s in ("hunter2-in-git", "rotated-in-git")]
    for secret in ["hunter2-in-git", "rotated-in-git", *encoded, *deployed.hub.tokens]:
        assert secret not in out


async def test_diff_to_an_unregistered_cluster_says_so(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    await put_app(hub, application("web", hub.namespace, destination={"name": "ghost"}))
    assert await fleet_app("diff", "web", *hub.args()) == 1
    err = capsys.readouterr().err
    assert err == (
        f"fleet: application 'web': cluster 'ghost' has not been configured in namespace "
        f"{hub.namespace} (`fleet cluster list`)\n"
    )


async def test_diff_of_a_missing_git_path_is_one_line_and_exit_1(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    await request_json(
        deployed.hub.api,
        "PATCH",
        f"/apis/fleet.gitops.dev/v1alpha1/namespaces/{deployed.hub.namespace}/applications/web",
        body={"spec": {"source": {"path": "nowhere"}}},
        content_type="application/merge-patch+json",
    )
    assert await fleet_app(*diff_args(deployed)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("fleet: application 'web': ")
    assert captured.err.count("\n") == 1
    for token in deployed.hub.tokens:
        assert token not in captured.err


async def test_diff_shows_an_object_that_left_git_as_removed(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = CONFIGMAP.replace("name: settings", "name: extra")
    commit(deployed.repo, {"guestbook/extra.yaml": extra})
    await sync_with_engine(deployed.member, await get_app(deployed.hub, "web"), [CONFIGMAP, extra])
    repo = git.Repo(deployed.repo)
    try:
        repo.index.remove(["guestbook/settings.yaml"], working_tree=True)
        repo.index.commit("settings leaves git")
    finally:
        repo.close()
    assert await fleet_app(*diff_args(deployed, "--exit-code")) == 1
    out = capsys.readouterr().out
    assert out.startswith(
        f"===== /ConfigMap {deployed.ns}/settings ======\n--- live\n+++ desired\n"
    )
    assert "-kind: ConfigMap" in out and "-  color: red" in out
    assert "extra" not in out


async def test_diff_with_the_member_unreachable_is_one_line_and_exit_1(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed.hub.faults().clusters["member"].faults.refuse = True
    assert await fleet_app(*diff_args(deployed)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("fleet: cluster 'member' unreachable: ")
    assert captured.err.count("\n") == 1


async def test_diff_with_git_unreachable_is_one_line_and_exit_1(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    await request_json(
        deployed.hub.api,
        "PATCH",
        f"/apis/fleet.gitops.dev/v1alpha1/namespaces/{deployed.hub.namespace}/applications/web",
        body={"spec": {"source": {"repoURL": f"git://127.0.0.1:{free_port()}/gone"}}},
        content_type="application/merge-patch+json",
    )
    assert await fleet_app(*diff_args(deployed)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    errors = [line for line in captured.err.splitlines() if line.startswith("fleet: ")]
    assert len(errors) == 1  # (the repository cache also logs a warning)
    assert errors[0].startswith("fleet: application 'web': GitError: ")
    assert "Connection refused" in errors[0]
