"""Drill: `fleet controller run` SIGKILLed at 10 seeded-random moments spread over a large
sync (a few hundred ConfigMaps over three clusters), restarted each time: the last one
converges with every object present exactly once, nothing extra, and a sane history."""

from __future__ import annotations

import random
import signal
from pathlib import Path
from typing import Any

import anyio
import pytest

from fleet.kube import request_json
from tests.clusters.harness import Member
from tests.controllers.harness import Scenario, configmap, stop_process, wait_ready
from tests.drills.support import all_converged, app_names, labelled_names
from tests.git.support import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

KILLS = 10
SEED = 20261123
PER_CLUSTER = 100
"""ConfigMaps of the big app on each cluster."""
APPS = ("web", "api", "big")
BIG = [f"big-{i:03}" for i in range(PER_CLUSTER)]
OTHER_CONFIGMAPS = {"web-config", "api-config"}


async def big_count(scenario: Scenario, members: list[Member]) -> int:
    return sum([len(await labelled_names(scenario, m, f"big-{m.name}")) for m in members])


async def kill_at(scenario: Scenario, log: Path, threshold: int, delay: float, total: int) -> int:
    """Start the controller, SIGKILL it once `threshold` of the big app's ConfigMaps exist
    (or `delay` seconds after it is ready if they already do); the count at the kill."""
    port = free_port()
    proc = scenario.start_process(log, port, "--shutdown-grace", "0")
    try:
        await wait_ready(port, timeout=60)
        members = scenario.env.members
        if await big_count(scenario, members) >= threshold:
            await anyio.sleep(delay)
        else:
            with anyio.fail_after(60):
                while await big_count(scenario, members) < threshold:
                    await anyio.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        code = await anyio.to_thread.run_sync(proc.wait, 30)
        assert code == -signal.SIGKILL, f"exit {code}: {log.read_text()[-2000:]}"
        return await big_count(scenario, members)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def status_problems(name: str, app: dict[str, Any], revision: str) -> list[str]:
    """What is not sane in the Application's status after the kills: history ids not
    consecutive, entries for another revision or of failed syncs, more than 10 entries, a
    last operation that did not succeed, or an inventory listing an object twice (or, for the
    big app, not listing exactly its ConfigMaps)."""
    status = app.get("status") or {}
    history = list(status.get("history") or [])
    problems = []
    ids = [h.get("id") for h in history]
    if not ids:
        problems.append(f"{name}: no history")
    elif ids != list(range(ids[0], ids[0] + len(ids))):
        problems.append(f"{name}: history ids not consecutive: {ids}")
    if len(history) > 10:
        problems.append(f"{name}: {len(history)} history entries (limit 10)")
    for entry in history:
        if entry.get("revision") != revision:
            problems.append(f"{name}: history entry for another revision: {entry}")
        if entry.get("result") not in (None, "Succeeded"):
            problems.append(f"{name}: history entry of a failed sync: {entry}")
        if str(entry.get("deployStartedAt") or "") > str(entry.get("deployedAt") or ""):
            problems.append(f"{name}: deployed before it started: {entry}")
    operation = status.get("operationState") or {}
    if (
        operation.get("phase") != "Succeeded"
        or (operation.get("syncResult") or {}).get("revision") != revision
    ):
        problems.append(f"{name}: last operation {operation.get('phase')}: {operation}")
    keys = [
        (r.get("group"), r.get("kind"), r.get("namespace"), r.get("name"))
        for r in status.get("resources") or []
    ]
    if len(keys) != len(set(keys)):
        problems.append(f"{name}: an object listed twice in status.resources")
    if name.startswith("big-"):
        listed = sorted(str(k[3]) for k in keys if k[1] == "ConfigMap")
        if listed != BIG:
            problems.append(f"{name}: status.resources lists {len(listed)} ConfigMaps")
    return problems


async def test_sigkill_at_ten_random_moments_of_a_large_sync_loses_and_duplicates_nothing(
    small_scenario: Scenario, tmp_path: Path
) -> None:
    scenario = small_scenario
    members = scenario.env.members
    for member in members:
        await scenario.register(member)
    revision = scenario.upstream.commit(
        {f"apps/big/cm-{i:03}.yaml": configmap(name, {"i": str(i)}) for i, name in enumerate(BIG)},
        "a big app",
    )
    await scenario.apply_appset(scenario.appset())
    total = PER_CLUSTER * len(members)
    rng = random.Random(SEED)
    thresholds = sorted(rng.sample(range(1, total), KILLS))
    log = tmp_path / "controller.log"
    counts = []
    for threshold in thresholds:
        counts.append(await kill_at(scenario, log, threshold, rng.uniform(0, 1.0), total))
    print(f"big-app ConfigMaps present at each kill (of {total}): {counts}")
    mid_sync = [c for c in counts if c < total]
    assert len(mid_sync) >= 2, f"too few kills landed mid-sync: {counts}"

    port = free_port()
    last = scenario.start_process(log, port)
    try:
        await wait_ready(port, timeout=60)
        apps = await scenario.wait_apps(
            all_converged(app_names(members, APPS), revision),
            timeout=180,
            what="every Application Synced and Healthy after the last restart",
        )
    finally:
        code = await anyio.to_thread.run_sync(stop_process, last, signal.SIGTERM)
    assert code == 0, log.read_text()[-3000:]
    assert set(apps) == app_names(members, APPS)
    for member in members:
        assert sorted(await labelled_names(scenario, member, f"big-{member.name}")) == BIG
        listing = await configmap_names(scenario, member)
        assert sorted(listing) == sorted(set(listing)), "a ConfigMap listed twice"
        assert set(listing) - {"kube-root-ca.crt"} == set(BIG) | OTHER_CONFIGMAPS
    problems = [p for name, app in apps.items() for p in status_problems(name, app, revision)]
    assert not problems, problems


async def configmap_names(scenario: Scenario, member: Member) -> list[str]:
    """Every ConfigMap in the destination namespace, tracked or not."""
    listing = await request_json(
        scenario.members[member.name],
        "GET",
        f"/api/v1/namespaces/{scenario.app_namespace}/configmaps",
    )
    return [i["metadata"]["name"] for i in listing.get("items") or []]
