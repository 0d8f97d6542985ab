"""Kubernetes Events on Applications: derived from the change between two written statuses, so
`kubectl get events` tells the story of every sync, status move, drift and hook failure."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from fleet.controllers.app_events import AppEvent, appset_events, event_basis, status_events
from fleet.kube import request_json
from tests.controllers.harness import Scenario, synced_and_healthy

REV = "0123456789abcdef0123456789abcdef01234567"


def status(
    sync: str = "Synced",
    health: str = "Healthy",
    revision: str = REV,
    operation: dict[str, Any] | None = None,
    resources: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "sync": {"status": sync, "revision": revision},
        "health": {"status": health},
        "resources": resources or [],
    }
    if operation is not None:
        doc["operationState"] = operation
    return doc


def reasons(events: list[AppEvent]) -> list[str]:
    return [e.reason for e in events]


def test_an_unchanged_status_makes_no_event() -> None:
    assert status_events(status(), status()) == []


def test_a_health_change_is_an_event_and_a_warning_when_it_worsens() -> None:
    (event,) = status_events(status(), status(health="Degraded"))
    assert (event.reason, event.message, event.warning) == (
        "ResourceUpdated",
        "Updated health status: Healthy -> Degraded",
        True,
    )
    (better,) = status_events(status(health="Degraded"), status())
    assert not better.warning


def test_out_of_sync_at_the_same_revision_is_drift_detected_naming_the_objects() -> None:
    drifted = status(
        sync="OutOfSync",
        resources=[
            {"kind": "ConfigMap", "name": "web-config", "status": "OutOfSync"},
            {"kind": "Service", "name": "web", "status": "Synced"},
        ],
    )
    events = status_events(status(), drifted)
    assert reasons(events) == ["ResourceUpdated", "DriftDetected"]
    assert events[1].warning and "ConfigMap/web-config" in events[1].message
    assert "Service/web" not in events[1].message


def test_back_in_sync_at_the_same_revision_is_drift_reverted() -> None:
    assert reasons(status_events(status(sync="OutOfSync"), status())) == [
        "ResourceUpdated",
        "DriftReverted",
    ]


def test_out_of_sync_because_git_moved_is_not_drift() -> None:
    events = status_events(status(), status(sync="OutOfSync", revision="f" * 40))
    assert reasons(events) == ["ResourceUpdated"]


def test_a_sync_start_and_its_end_are_one_event_each() -> None:
    running = {
        "phase": "Running",
        "startedAt": "2026-12-05T10:00:00Z",
        "operation": {"sync": {"revision": REV}, "initiatedBy": {"automated": True}},
    }
    started = status_events(status(), status(operation=running))
    assert [(e.reason, e.message) for e in started] == [
        ("OperationStarted", "Initiated automated sync to '0123456'")
    ]
    assert status_events(status(operation=running), status(operation=running)) == []
    done = dict(running, phase="Succeeded")
    assert [
        (e.reason, e.message)
        for e in status_events(status(operation=running), status(operation=done))
    ] == [("OperationCompleted", "Sync operation to 0123456 succeeded")]


def test_the_basis_kept_of_a_written_status_makes_the_same_events_as_the_whole_status() -> None:
    running = {"phase": "Running", "startedAt": "2026-12-05T10:00:00Z", "operation": {}}
    drifted = [{"kind": "ConfigMap", "name": "a", "status": "OutOfSync"}]
    statuses = [
        {},
        status(),
        status(health="Degraded"),
        status(sync="OutOfSync", resources=drifted),
        status(revision="f" * 40),
        status(operation=running),
        status(operation=dict(running, phase="Failed", message="boom")),
        status(operation=dict(running, phase="Succeeded", startedAt="2026-12-05T11:00:00Z")),
    ]
    for before in statuses:
        for after in statuses:
            assert status_events(event_basis(before), after) == status_events(before, after)


def test_a_failed_hook_gets_its_own_event_naming_it() -> None:
    failed = {
        "phase": "Failed",
        "startedAt": "2026-12-05T10:00:00Z",
        "message": "one or more synchronization tasks completed unsuccessfully",
        "syncResult": {
            "revision": REV,
            "resources": [
                {
                    "kind": "Job",
                    "name": "db-migrate",
                    "hookType": "PreSync",
                    "hookPhase": "Failed",
                    "message": "Job has reached the specified backoff limit",
                }
            ],
        },
    }
    events = status_events(status(), status(operation=failed))
    assert reasons(events) == ["OperationCompleted", "HookFailed"]
    assert all(e.warning for e in events)
    assert events[1].message == (
        "PreSync hook Job/db-migrate failed: Job has reached the specified backoff limit"
    )


@pytest.mark.anyio
async def test_a_converging_application_leaves_events_on_the_hub(sim_scenario: Scenario) -> None:
    scenario = sim_scenario
    member = scenario.member(0)
    await scenario.register(member)
    async with scenario.controller():
        await scenario.apply_appset(scenario.appset())
        apps = await scenario.wait_apps(
            lambda apps: len(apps) == 2 and all(map(synced_and_healthy, apps.values())),
            what="both Applications Synced and Healthy",
        )
        name = sorted(apps)[0]
        messages: set[str] = set()
        with anyio.fail_after(30):  # hang guard: the Event writer is a separate task
            while "Updated health status: Unknown -> Healthy" not in messages:
                listed = await request_json(
                    scenario.hub,
                    "GET",
                    f"/api/v1/namespaces/{scenario.namespace}/events",
                    query={"fieldSelector": f"involvedObject.name={name}"},
                )
                messages = {str(e.get("message")) for e in listed.get("items") or []}
                await anyio.sleep(0.1)
    assert "Updated sync status: Unknown -> Synced" in messages


def up_to_date(status: str, reason: str, message: str = "") -> list[dict[str, str]]:
    return [{"type": "ResourcesUpToDate", "status": status, "reason": reason, "message": message}]


def test_deletions_held_by_the_budget_are_a_warning_once() -> None:
    ok = up_to_date("True", "ApplicationSetUpToDate")
    held = up_to_date("False", "DeletionBudgetExceeded", "8 Application(s) ... held back")
    (event,) = appset_events(ok, held)
    assert (event.reason, event.warning) == ("DeletionsHeld", True)
    assert appset_events(held, held) == []
    assert reasons(appset_events(held, ok)) == ["ResourcesUpToDate"]


def test_a_failing_generator_with_applications_kept_is_deletions_frozen() -> None:
    frozen = up_to_date(
        "False",
        "ApplicationGenerationFromParamsError",
        "repository unreachable. ... (3 Application(s) no longer generated are kept for now)",
    )
    failing = up_to_date("False", "ApplicationGenerationFromParamsError", "bad template")
    ok = up_to_date("True", "ApplicationSetUpToDate")
    assert reasons(appset_events(ok, frozen)) == ["DeletionsFrozen"]
    assert reasons(appset_events(ok, failing)) == ["GenerationFailed"]
