"""Each built-in trigger fires once per state change: repeated reconciles of the same state
send nothing more; a condition that turns false re-arms; oncePer values are told once each."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.notify.catalog import BUILTIN_TRIGGERS
from fleet.notify.config import parse_config
from fleet.notify.decide import decide

T0, T1 = "2026-01-01T10:00:00Z", "2026-01-01T10:00:05Z"


def app(
    *,
    phase: str | None = None,
    revision: str = "a",
    synced_revision: str | None = None,
    sync: str = "Synced",
    health: str = "Healthy",
    health_since: str = T1,
    deleting: bool = False,
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "sync": {"status": sync, "revision": revision},
        "health": {"status": health, "lastTransitionTime": health_since},
    }
    if phase is not None:
        status["operationState"] = {
            "phase": phase,
            "startedAt": T0,
            "finishedAt": T0,
            "syncResult": {"revision": synced_revision or revision},
        }
    meta: dict[str, Any] = {
        "name": "web",
        "annotations": {
            f"notifications.argoproj.io/subscribe.{t}.hook": "" for t in BUILTIN_TRIGGERS
        },
    }
    if deleting:
        meta["deletionTimestamp"] = T1
    return {"metadata": meta, "status": status}


def sent(states: list[dict[str, Any]]) -> dict[str, int]:
    """Trigger -> notifications sent over `states`, each delivered at once."""
    config = parse_config({"service.webhook.hook": "url: https://hooks.example.com"})
    state: dict[str, int] = {}
    counts: dict[str, int] = {}
    for current in states:
        for due in decide(current, config, state).due:
            state[due.key] = 1
            counts[due.trigger] = counts.get(due.trigger, 0) + 1
    return counts


CASES = {
    "on-created": ([app(), app(), app(phase="Succeeded")], 1),
    "on-deleted": ([app(), app(deleting=True), app(deleting=True)], 1),
    "on-sync-running": (
        [app(phase="Running"), app(phase="Running"), app(phase="Succeeded"), app(phase="Running")],
        2,
    ),
    "on-sync-succeeded": (
        [app(phase="Running"), app(phase="Succeeded"), app(phase="Succeeded")],
        1,
    ),
    "on-sync-failed": (
        [
            app(phase="Failed"),
            app(phase="Failed"),
            app(phase="Succeeded"),
            app(phase="Failed"),  # the same revision again: oncePer already told
            app(phase="Error", revision="b"),
        ],
        2,
    ),
    "on-deployed": (
        [
            app(phase="Succeeded", health="Progressing", health_since=T0),
            app(phase="Succeeded"),
            app(phase="Succeeded"),
            app(phase="Succeeded", revision="b"),
        ],
        2,
    ),
    "on-health-degraded": (
        [app(health="Degraded"), app(health="Degraded"), app(), app(health="Degraded")],
        2,
    ),
    "on-sync-status-unknown": ([app(sync="Unknown"), app(sync="Unknown")], 1),
    "on-drift-detected": (
        [
            app(phase="Succeeded"),
            app(phase="Succeeded", sync="OutOfSync"),
            app(phase="Succeeded", sync="OutOfSync"),
            app(phase="Succeeded"),  # reverted: re-armed
            app(phase="Succeeded", sync="OutOfSync"),
        ],
        2,
    ),
}


@pytest.mark.parametrize("trigger", sorted(CASES))
def test_builtin_trigger_fires_once_per_state_change(trigger: str) -> None:
    states, expected = CASES[trigger]
    assert sent(states).get(trigger, 0) == expected


def test_a_new_commit_out_of_sync_is_not_drift() -> None:
    new_commit = app(phase="Succeeded", sync="OutOfSync", revision="b", synced_revision="a")
    counts = sent([app(phase="Succeeded"), new_commit])
    assert "on-drift-detected" not in counts


def test_every_builtin_trigger_has_a_case() -> None:
    assert set(CASES) == set(BUILTIN_TRIGGERS)


def test_a_trigger_nobody_configured_is_a_problem_naming_it() -> None:
    config = parse_config({})
    subscribed = {
        "metadata": {"annotations": {"notifications.argoproj.io/subscribe.on-x.hook": ""}}
    }
    decision = decide(subscribed, config, {})
    assert decision.due == []
    assert "trigger 'on-x' is not configured" in decision.problems[0][2]


def test_a_failed_delivery_is_not_due_again_until_the_condition_rearms() -> None:
    config = parse_config({})
    failed: set[str] = set()
    degraded = app(health="Degraded")
    (due,) = [d for d in decide(degraded, config, {}).due if d.trigger == "on-health-degraded"]
    failed.add(due.key)
    again = decide(degraded, config, {}, failed=failed).due
    assert due.key not in {d.key for d in again}
    decide(app(), config, {}, failed=failed)
    assert due.key not in failed


def test_a_projects_subscriptions_cover_its_applications() -> None:
    config = parse_config({})
    project = {
        "metadata": {"annotations": {"notifications.argoproj.io/subscribe.on-created.slack": "ops"}}
    }
    bare = {"metadata": {"name": "web"}}
    decision = decide(bare, config, {}, project=project)
    assert [(d.trigger, str(d.destination)) for d in decision.due] == [("on-created", "slack:ops")]
