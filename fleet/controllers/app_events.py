"""Kubernetes Events for Application and ApplicationSet state changes, so `kubectl describe`
and `kubectl get events` tell what happened: a sync started or ended, sync or health status
moved, drift appeared or was reverted, a hook failed, an ApplicationSet's deletions were frozen
or held back.

Why derived from two status documents instead of emitted where things happen: the status
written to the hub is the one record every code path (sync, compare-only refresh, self-heal,
restart) goes through, so deriving Events from the change between the last written status and
the next one covers them all, and a restarted controller (which starts from the status on the
hub) does not repeat an Event for a change it already reported.

Reasons and messages follow Argo CD's application controller where it has one
(OperationStarted, OperationCompleted, ResourceUpdated); DriftDetected, DriftReverted and
HookFailed are fleet's.

Writing is best effort and never delays a reconcile: `EventSink.emit` only queues (a full
queue drops the Event and counts it), one task writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import structlog
from anyio.abc import TaskStatus
from kubernetes_asyncio.client import ApiClient

from fleet.kube.events import ObjectRef, record_event

log = structlog.get_logger("fleet.controllers.app_events")

QUEUE_SIZE = 1000
"""Events waiting to be written; past this they are dropped (counted in `dropped`)."""

BAD_HEALTH = frozenset({"Degraded", "Missing", "Unknown"})
FAILED_PHASES = frozenset({"Failed", "Error"})
DONE_PHASES = frozenset({"Succeeded"}) | FAILED_PHASES


@dataclass(frozen=True, slots=True)
class AppEvent:
    reason: str
    message: str
    warning: bool = False


def _get(doc: Mapping[str, Any], *path: str) -> Any:
    node: Any = doc
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _short(revision: Any) -> str:
    text = str(revision or "")
    return text[:7] if len(text) == 40 else text or "(none)"


def _operation_events(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[AppEvent]:
    op_before = _get(before, "operationState") or {}
    op_after = _get(after, "operationState") or {}
    if not isinstance(op_after, Mapping) or not op_after:
        return []
    same_run = isinstance(op_before, Mapping) and op_before.get("startedAt") == op_after.get(
        "startedAt"
    )
    phase = op_after.get("phase")
    phase_before = op_before.get("phase") if same_run and isinstance(op_before, Mapping) else None
    revision = _short(
        _get(op_after, "syncResult", "revision") or _get(op_after, "operation", "sync", "revision")
    )
    automated = bool(_get(op_after, "operation", "initiatedBy", "automated"))
    events: list[AppEvent] = []
    if not same_run and phase == "Running":
        how = "automated sync" if automated else "sync"
        events.append(AppEvent("OperationStarted", f"Initiated {how} to '{revision}'"))
    if phase in DONE_PHASES and phase != phase_before:
        if phase == "Succeeded":
            events.append(AppEvent("OperationCompleted", f"Sync operation to {revision} succeeded"))
        else:
            message = str(op_after.get("message") or phase)
            events.append(
                AppEvent(
                    "OperationCompleted",
                    f"Sync operation to {revision} failed: {message}",
                    warning=True,
                )
            )
            for resource in _get(op_after, "syncResult", "resources") or []:
                if isinstance(resource, Mapping) and resource.get("hookPhase") in FAILED_PHASES:
                    events.append(
                        AppEvent(
                            "HookFailed",
                            f"{resource.get('hookType') or 'Sync'} hook {resource.get('kind')}/"
                            f"{resource.get('name')} {str(resource.get('hookPhase')).lower()}: "
                            f"{resource.get('message') or 'no message'}",
                            warning=True,
                        )
                    )
    return events


def _drift_events(
    before: Mapping[str, Any], after: Mapping[str, Any], sync_before: Any, sync_after: Any
) -> list[AppEvent]:
    same_revision = _get(before, "sync", "revision") == _get(after, "sync", "revision")
    if not same_revision:
        return []
    if sync_before == "Synced" and sync_after == "OutOfSync":
        drifted = [
            f"{r.get('kind')}/{r.get('name')}"
            for r in _get(after, "resources") or []
            if isinstance(r, Mapping) and r.get("status") == "OutOfSync"
        ]
        listed = ", ".join(drifted[:10]) + (
            f" and {len(drifted) - 10} more" if len(drifted) > 10 else ""
        )
        return [
            AppEvent(
                "DriftDetected",
                f"Live state differs from revision {_short(_get(after, 'sync', 'revision'))}"
                + (f": {listed}" if listed else ""),
                warning=True,
            )
        ]
    if sync_before == "OutOfSync" and sync_after == "Synced":
        return [
            AppEvent(
                "DriftReverted",
                f"Live state matches revision {_short(_get(after, 'sync', 'revision'))} again",
            )
        ]
    return []


def event_basis(status: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a status that `status_events` reads of `before`: what the controller keeps
    of the last status it wrote (the whole document, kept for each of 2,000 Applications,
    was 9 MiB)."""
    op = _get(status, "operationState")
    basis: dict[str, Any] = {
        "sync": {k: _get(status, "sync", k) for k in ("status", "revision")},
        "health": {"status": _get(status, "health", "status")},
    }
    if isinstance(op, Mapping):
        basis["operationState"] = {k: op.get(k) for k in ("startedAt", "phase")}
    return basis


def status_events(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[AppEvent]:
    """The Events that the change from status `before` to status `after` deserves."""
    events = _operation_events(before, after)
    sync_before, sync_after = _get(before, "sync", "status"), _get(after, "sync", "status")
    if sync_after and sync_before != sync_after:
        events.append(
            AppEvent(
                "ResourceUpdated",
                f"Updated sync status: {sync_before or 'Unknown'} -> {sync_after}",
                warning=sync_after == "Unknown",
            )
        )
        events.extend(_drift_events(before, after, sync_before, sync_after))
    health_before, health_after = _get(before, "health", "status"), _get(after, "health", "status")
    if health_after and health_before != health_after:
        events.append(
            AppEvent(
                "ResourceUpdated",
                f"Updated health status: {health_before or 'Unknown'} -> {health_after}",
                warning=health_after in BAD_HEALTH,
            )
        )
    return events


APPSET_REASONS = {
    "DeletionBudgetExceeded": "DeletionsHeld",
    "ApplicationGenerationFromParamsError": "GenerationFailed",
}
"""The Event reason for an ApplicationSet whose ResourcesUpToDate condition turned False."""


def _condition(conditions: Any, kind: str) -> Mapping[str, Any]:
    for item in conditions if isinstance(conditions, list) else ():
        if isinstance(item, Mapping) and item.get("type") == kind:
            return item
    return {}


def appset_events(before: Any, after: Any) -> list[AppEvent]:
    """The Events an ApplicationSet's move from conditions `before` to `after` deserves:
    frozen deletions (generation failed while Applications are no longer generated), deletions
    held by the budget, other errors, and the return to up to date."""
    was = _condition(before, "ResourcesUpToDate")
    now = _condition(after, "ResourcesUpToDate")
    if not now or (was.get("status"), was.get("reason")) == (now.get("status"), now.get("reason")):
        return []
    message = str(now.get("message") or "")
    if now.get("status") == "True":
        return [AppEvent("ResourcesUpToDate", message or "All Applications are up to date")]
    reason = APPSET_REASONS.get(str(now.get("reason")), str(now.get("reason") or "Error"))
    if reason == "GenerationFailed" and "are kept for now" in message:
        reason = "DeletionsFrozen"
    return [AppEvent(reason, message, warning=True)]


class EventSink:
    """A bounded queue of Events and the one task that writes them to the hub."""

    def __init__(self, hub: ApiClient, queue_size: int = QUEUE_SIZE) -> None:
        self.hub = hub
        self._send, self._receive = anyio.create_memory_object_stream[tuple[ObjectRef, AppEvent]](
            queue_size
        )
        self.dropped = 0
        self.written = 0

    def emit(self, ref: ObjectRef, events: list[AppEvent]) -> None:
        for item in events:
            try:
                self._send.send_nowait((ref, item))
            except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
                # full, or the writer has stopped (shutdown): an Event is never worth a wait
                self.dropped += 1
                log.debug("event.dropped", object=ref.name, reason=item.reason)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async with self._receive:
            async for ref, item in self._receive:
                await record_event(self.hub, ref, item.reason, item.message, warning=item.warning)
                self.written += 1
