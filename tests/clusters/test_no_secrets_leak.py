"""Credentials never appear in logs, CLI output, errors or status, whatever goes wrong."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
import structlog
import yaml
from kubernetes_asyncio.client import ApiClient

from fleet.cli import main
from tests.clusters.harness import (
    Env,
    get_cluster,
    put_cluster,
    put_secret,
    ready,
    reason_is,
    running,
    wait_cluster,
)

pytestmark = pytest.mark.anyio

WRONG = "wrong-token-7d1e2f9a"


async def test_no_token_shows_up_in_logs_output_or_status(
    env: Env,
    hub: ApiClient,
    namespace: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    good, other = env.members
    args = ["--hub-kubeconfig", str(env.hub.kubeconfig), "--namespace", namespace]
    bad_config = yaml.safe_load(other.kubeconfig.read_text())
    for user in bad_config["users"]:
        user["user"] = {"token": WRONG}
    bad_kubeconfig = tmp_path / "bad.kubeconfig"
    bad_kubeconfig.write_text(yaml.safe_dump(bad_config))

    with structlog.testing.capture_logs() as logs:
        cli = [
            ["cluster", "add", "good", "--kubeconfig", str(good.kubeconfig), *args],
            ["cluster", "add", "bad", "--kubeconfig", str(bad_kubeconfig), *args],
        ]
        codes = [await anyio.to_thread.run_sync(main, argv) for argv in cli]
        await put_secret(hub, namespace, "wrong", {"token": WRONG, "ca.crt": other.ca_pem})
        await put_cluster(hub, namespace, "wrong", other.server, "wrong")
        await put_secret(hub, namespace, "broken", {"token": WRONG, "insecure": "maybe"})
        await put_cluster(hub, namespace, "broken", other.server, "broken")
        async with running(env, namespace):
            await wait_cluster(hub, namespace, "good", ready)
            await wait_cluster(hub, namespace, "wrong", reason_is("Unauthorized"))
            await wait_cluster(hub, namespace, "broken", reason_is("InvalidCredentials"))
        for argv in (["cluster", "list", *args], ["cluster", "list", "-o", "yaml", *args]):
            codes.append(await anyio.to_thread.run_sync(main, argv))
        statuses = [await get_cluster(hub, namespace, n) for n in ("good", "wrong", "broken")]

    assert codes == [0, 1, 0, 0]
    captured = capsys.readouterr()
    haystack = "\n".join(
        [
            captured.out,
            captured.err,
            json.dumps(logs, default=str),
            json.dumps([s.get("status") for s in statuses]),
        ]
    )
    assert "Unauthorized" in haystack and "cluster.health_changed" in haystack  # saw the events
    for secret in [*env.secrets, WRONG]:
        assert secret not in haystack
