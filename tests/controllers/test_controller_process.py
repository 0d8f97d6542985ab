"""`fleet controller run` as a real process: graceful SIGTERM mid-sync, then a restart that
converges from whatever state the first process left."""

from __future__ import annotations

import signal
from pathlib import Path

import anyio
import pytest

from fleet.kube import request_json
from tests.controllers.harness import (
    Scenario,
    configmap,
    stop_process,
    synced_and_healthy,
    wait_ready,
)
from tests.git.support import free_port

pytestmark = pytest.mark.anyio

BIG = 300


async def labelled_configmaps(scenario: Scenario, member_name: str, app: str) -> list[str]:
    listing = await request_json(
        scenario.members[member_name],
        "GET",
        f"/api/v1/namespaces/{scenario.app_namespace}/configmaps",
        query={"labelSelector": f"fleet.gitops.dev/app={app}"},
    )
    return [i["metadata"]["name"] for i in listing.get("items") or []]


async def test_sigterm_mid_sync_exits_cleanly_and_a_restart_converges_with_nothing_lost(
    scenario: Scenario, tmp_path: Path
) -> None:
    members = scenario.env.members
    for member in members:
        await scenario.register(member)
    scenario.upstream.commit(
        {f"apps/big/cm-{i:03}.yaml": configmap(f"big-{i:03}", {"i": str(i)}) for i in range(BIG)},
        "a big app",
    )
    log = tmp_path / "controller.log"
    # No grace: the first process is cut off mid-sync, as a crash or an impatient kubelet would.
    first = scenario.start_process(log, free_port(), "--shutdown-grace", "0")
    try:
        await scenario.apply_appset(scenario.appset())
        with anyio.fail_after(60):
            while not await labelled_configmaps(
                scenario, members[0].name, f"big-{members[0].name}"
            ):
                await anyio.sleep(0.05)
        code = await anyio.to_thread.run_sync(stop_process, first, signal.SIGTERM)
    finally:
        if first.poll() is None:
            first.kill()
    assert code == 0, log.read_text()[-3000:]
    assert "controller.stopping" in log.read_text()
    left = [len(await labelled_configmaps(scenario, m.name, f"big-{m.name}")) for m in members]
    assert sum(left) < BIG * len(members), "the first process was not stopped mid-sync"

    port = free_port()
    second = scenario.start_process(log, port)
    try:
        await wait_ready(port)
        names = {f"{app}-{m.name}" for app in ("web", "api", "big") for m in members}
        await scenario.wait_apps(
            lambda apps: set(apps) == names and all(map(synced_and_healthy, apps.values())),
            timeout=120,
            what="every Application Synced and Healthy after the restart",
        )
        for member in members:
            found = await labelled_configmaps(scenario, member.name, f"big-{member.name}")
            assert sorted(found) == [f"big-{i:03}" for i in range(BIG)]
    finally:
        assert await anyio.to_thread.run_sync(stop_process, second, signal.SIGTERM) == 0
