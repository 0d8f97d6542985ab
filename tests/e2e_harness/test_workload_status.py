"""fleet.sim.workload_status against Argo CD's health rules (pure, no servers)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fleet.sim.workload_status import SUPPORTED_KINDS, settled_status, status_is_settled
from tests.e2e_harness.argo_health import health
from tests.e2e_harness.manifests import workload

NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)

# Argo CD has no Degraded rule for StatefulSets and DaemonSets: failing ones stay Progressing.
FAILING_HEALTH = {
    "Deployment": "Degraded",
    "ReplicaSet": "Degraded",
    "Job": "Degraded",
    "StatefulSet": "Progressing",
    "DaemonSet": "Progressing",
    "Pod": "Degraded",
    "HorizontalPodAutoscaler": "Degraded",
}


def _with_status(obj: dict[str, Any], status: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(obj, metadata=dict(obj["metadata"], generation=1))
    out["status"] = status or {}
    return out


@pytest.mark.parametrize("kind", sorted(SUPPORTED_KINDS))
def test_unsettled_workloads_are_not_healthy(kind: str) -> None:
    assert health(_with_status(workload(kind, "app"), {})) == "Progressing"


@pytest.mark.parametrize("kind", sorted(SUPPORTED_KINDS))
def test_settled_status_reads_healthy(kind: str) -> None:
    obj = _with_status(workload(kind, "app"), {})
    status = settled_status(obj, failing=False, now=NOW)
    assert status is not None
    assert health(_with_status(obj, status)) == "Healthy"


@pytest.mark.parametrize("kind", sorted(SUPPORTED_KINDS))
def test_failing_status_reads_degraded_where_argo_can(kind: str) -> None:
    obj = _with_status(workload(kind, "app"), {})
    status = settled_status(obj, failing=True, now=NOW)
    assert status is not None
    assert health(_with_status(obj, status)) == FAILING_HEALTH[kind]


@pytest.mark.parametrize("kind", sorted(SUPPORTED_KINDS))
@pytest.mark.parametrize("failing", [False, True])
def test_a_written_status_counts_as_settled(kind: str, failing: bool) -> None:
    obj = _with_status(workload(kind, "app"), {})
    status = settled_status(obj, failing=failing, now=NOW)
    assert status is not None
    assert not status_is_settled(obj, status)
    # The API server drops omitempty zeros (a Job's `active: 0`): still settled.
    stored = {k: v for k, v in status.items() if v != 0}
    assert status_is_settled(_with_status(obj, stored), status)


def test_new_generation_is_not_settled() -> None:
    obj = _with_status(workload("Deployment", "app"), {})
    status = settled_status(obj, failing=False, now=NOW)
    assert status is not None
    bumped = _with_status(obj, status)
    bumped["metadata"]["generation"] = 2
    desired = settled_status(bumped, failing=False, now=NOW)
    assert desired is not None and desired["observedGeneration"] == 2
    assert not status_is_settled(bumped, desired)


def test_conditions_keep_their_transition_time() -> None:
    obj = _with_status(workload("Deployment", "app"), {})
    first = settled_status(obj, failing=False, now=NOW)
    assert first is not None
    later = datetime(2026, 11, 22, 11, 0, 0, tzinfo=UTC)
    second = settled_status(_with_status(obj, first), failing=False, now=later)
    assert second is not None
    assert [c["lastTransitionTime"] for c in second["conditions"]] == ["2026-11-22T10:00:00Z"] * 2
    assert [c["lastUpdateTime"] for c in second["conditions"]] == ["2026-11-22T11:00:00Z"] * 2


def test_finished_or_suspended_jobs_are_left_alone() -> None:
    job = _with_status(workload("Job", "once"), {})
    done = settled_status(job, failing=False, now=NOW)
    assert done is not None and done["completionTime"] >= done["startTime"]
    assert settled_status(_with_status(job, done), failing=True, now=NOW) is None
    suspended = _with_status(job, {})
    suspended["spec"] = dict(suspended["spec"], suspend=True)
    assert settled_status(suspended, failing=False, now=NOW) is None


def test_job_keeps_its_start_time() -> None:
    job = _with_status(workload("Job", "once"), {"startTime": "2026-11-22T09:00:00Z"})
    status = settled_status(job, failing=False, now=NOW)
    assert status is not None
    assert status["startTime"] == "2026-11-22T09:00:00Z"
    assert status["completionTime"] == "2026-11-22T10:00:00Z"


def test_unsupported_kinds_get_nothing() -> None:
    assert settled_status({"kind": "ConfigMap"}, failing=False) is None


def test_zero_replicas_is_healthy() -> None:
    obj = _with_status(workload("Deployment", "idle", replicas=0), {})
    status = settled_status(obj, failing=False, now=NOW)
    assert status is not None and "readyReplicas" not in status
    assert health(_with_status(obj, status)) == "Healthy"
