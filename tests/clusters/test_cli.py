"""`fleet cluster add|list|remove` against both backends (run in a worker thread: the CLI
starts its own event loop)."""

from __future__ import annotations

import json

import anyio
import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from fleet.cli import main
from fleet.kube import NotFound, request_json
from tests.clusters.harness import Env, get_cluster, ready, running, wait_cluster

pytestmark = pytest.mark.anyio


async def fleet(*argv: str) -> int:
    return await anyio.to_thread.run_sync(main, list(argv))


def hub_args(env: Env, namespace: str) -> list[str]:
    return ["--hub-kubeconfig", str(env.hub.kubeconfig), "--namespace", namespace]


async def test_add_stores_a_secret_and_creates_a_cluster_that_becomes_ready(
    env: Env, hub: ApiClient, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    member = env.members[0]
    code = await fleet(
        "cluster", "add", "m1", "--kubeconfig", str(member.kubeconfig),
        "--label", "env=prod", *hub_args(env, namespace),
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert f"secret {namespace}/cluster-m1" in capsys.readouterr().out
    obj = await get_cluster(hub, namespace, "m1")
    assert obj["spec"]["labels"] == {"env": "prod"}
    assert obj["spec"]["secretRef"] == {"name": "cluster-m1"}
    async with running(env, namespace):
        await wait_cluster(hub, namespace, "m1", ready)


async def test_add_with_a_service_account_stores_a_working_token(
    env: Env, hub: ApiClient, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if env.backend == "sim":
        pytest.skip("fleet.sim has no ServiceAccount tokens (no TokenRequest)")
    member = env.members[1]
    code = await fleet(
        "cluster", "add", "m2", "--kubeconfig", str(member.kubeconfig), "--service-account",
        *hub_args(env, namespace),
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    secret = await request_json(hub, "GET", f"/api/v1/namespaces/{namespace}/secrets/cluster-m2")
    import base64

    stored = base64.b64decode(secret["data"]["token"]).decode()
    assert stored != member.token  # the ServiceAccount's token, not the admin's
    async with running(env, namespace):
        await wait_cluster(hub, namespace, "m2", ready)


async def test_list_prints_a_table_with_health(
    env: Env, hub: ApiClient, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    member = env.members[0]
    args = hub_args(env, namespace)
    assert await fleet("cluster", "add", "m1", "--kubeconfig", str(member.kubeconfig), *args) == 0
    async with running(env, namespace):
        await wait_cluster(hub, namespace, "m1", ready)
    capsys.readouterr()
    assert await fleet("cluster", "list", *args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "SERVER", "LABELS", "STATUS", "VERSION", "LATENCY"]
    row = lines[1].split()
    assert row[:4] == ["m1", member.server, "<none>", "Ready"]
    assert row[4].startswith("v1.") and row[5].endswith("ms")


@pytest.mark.parametrize("output", ["json", "yaml"])
async def test_list_prints_clusters_as_json_or_yaml(
    env: Env, hub: ApiClient, namespace: str, capsys: pytest.CaptureFixture[str], output: str
) -> None:
    args = hub_args(env, namespace)
    kubeconfig = str(env.members[0].kubeconfig)
    assert await fleet("cluster", "add", "m1", "--kubeconfig", kubeconfig, *args) == 0
    capsys.readouterr()
    assert await fleet("cluster", "list", "-o", output, *args) == 0
    text = capsys.readouterr().out
    doc = json.loads(text) if output == "json" else yaml.safe_load(text)
    assert [item["metadata"]["name"] for item in doc["items"]] == ["m1"]


async def test_remove_deletes_the_cluster_and_its_secret(
    env: Env, hub: ApiClient, namespace: str
) -> None:
    args = hub_args(env, namespace)
    kubeconfig = str(env.members[0].kubeconfig)
    assert await fleet("cluster", "add", "m1", "--kubeconfig", kubeconfig, *args) == 0
    assert await fleet("cluster", "remove", "m1", *args) == 0
    with pytest.raises(NotFound):
        await get_cluster(hub, namespace, "m1")
    with pytest.raises(NotFound):
        await request_json(hub, "GET", f"/api/v1/namespaces/{namespace}/secrets/cluster-m1")


async def test_add_with_an_unknown_context_fails_with_exit_2_naming_it(
    env: Env, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await fleet(
        "cluster", "add", "m1", "--kubeconfig", str(env.members[0].kubeconfig),
        "--context", "nope", *hub_args(env, namespace),
    )  # fmt: skip
    assert code == 2
    assert "no context named 'nope'" in capsys.readouterr().err


async def test_add_refuses_credentials_that_do_not_work(
    env: Env, hub: ApiClient, namespace: str, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    config = yaml.safe_load(env.members[0].kubeconfig.read_text())
    for user in config["users"]:
        user["user"] = {"token": "wrong-token"}
    bad = Path(str(tmp_path)) / "bad.kubeconfig"
    bad.write_text(yaml.safe_dump(config))
    code = await fleet("cluster", "add", "m1", "--kubeconfig", str(bad), *hub_args(env, namespace))
    assert code == 1
    assert "Unauthorized" in capsys.readouterr().err
    with pytest.raises(NotFound):
        await get_cluster(hub, namespace, "m1")
