"""The Application status the engine maintains, in Argo CD's field names.

`status.sync` {status, revision}, `status.health` {status}, `status.resources`,
`status.operationState` {phase, message, startedAt, finishedAt, retryCount, syncResult
{revision, resources[]}}, `status.history` (the last `spec.revisionHistoryLimit` successful
syncs: id, revision, deployedAt, deployStartedAt, source, initiatedBy), `status.summary`
{images, externalURLs} and `status.conditions`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fleet.sync.inventory import Key, ResourceState
from fleet.sync.summary import merge_links, stored_summary

HISTORY_LIMIT = 10
"""Successful syncs kept in `status.history` unless `spec.revisionHistoryLimit` says (Argo CD's
default)."""
MAX_HISTORY_LIMIT = 100
"""The most `spec.revisionHistoryLimit` keeps: each entry holds the synced source, and the whole
status lives in the controller's memory and in one etcd object."""


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class ResourceResult:
    """One `operationState.syncResult.resources` item."""

    group: str
    version: str
    kind: str
    namespace: str
    name: str
    status: str  # Synced | SyncFailed | Pruned | PruneSkipped
    message: str
    sync_phase: str = "Sync"  # PreSync | Sync | PostSync | SyncFail
    wave: int = 0
    hook_type: str = ""  # a hook's type (PreSync, Sync, PostSync, SyncFail); "" otherwise
    hook_phase: str = ""  # a hook's progress: Running | Succeeded | Failed

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "group": self.group, "version": self.version, "kind": self.kind,
            "namespace": self.namespace, "name": self.name, "status": self.status,
            "message": self.message, "syncPhase": self.sync_phase, "hookPhase": self.hook_phase,
            "syncWave": self.wave,
        }  # fmt: skip
        if self.hook_type:
            out["hookType"] = self.hook_type
        return out


@dataclass
class Operation:
    phase: str = "Running"  # Running | Succeeded | Failed | Error
    message: str = ""
    revision: str = ""
    started_at: str = field(default_factory=now)
    finished_at: str | None = None
    retry_count: int = 0
    results: list[ResourceResult] = field(default_factory=list)
    requested: dict[str, Any] = field(default_factory=dict)
    """What was asked, as Argo CD echoes it in `operationState.operation`: `sync` (revision,
    prune, dryRun, syncOptions) and `initiatedBy` (a username, or `automated: true`), bounded
    by `requested_operation`."""
    source: dict[str, Any] | None = None
    """The Application's source as synced, for its `history` entry (Argo CD keeps it there for
    rollback and the UI); None when unknown or too large (`echoed_source`)."""

    def to_dict(self) -> dict[str, Any]:
        sync = dict(self.requested.get("sync") or {})
        sync["revision"] = sync.get("revision") or self.revision  # as asked, else as resolved
        requested = {**self.requested, "sync": sync}
        out: dict[str, Any] = {
            "operation": requested,
            "phase": self.phase,
            "message": self.message,
            "startedAt": self.started_at,
            "retryCount": self.retry_count,
            "syncResult": {
                "revision": self.revision,
                "resources": [r.to_dict() for r in self.results],
            },
        }
        if self.finished_at:
            out["finishedAt"] = self.finished_at
        return out


@dataclass
class AppStatus:
    resources: dict[Key, ResourceState] = field(default_factory=dict)
    revision: str = ""
    sync_status: str = "Unknown"
    health: str = "Healthy"
    operation: Operation | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    conditions: list[dict[str, Any]] = field(default_factory=list)
    compared_to: dict[str, Any] | None = None
    """The source and destination the last compare used (Argo CD's `sync.comparedTo`)."""
    source_type: str = ""
    summary: dict[str, list[str]] = field(default_factory=dict)
    """Images and external URLs of the live objects (fleet.sync.summary), set by each compare
    and at the end of each sync attempt."""

    def record_history(self, op: Operation, limit: int = HISTORY_LIMIT) -> None:
        """Append a successful sync and keep the last `limit` (ids increase), as Argo CD does:
        the history is what was deployed, what a rollback can return to."""
        # One past the highest id: the history may come from Argo CD (a takeover) or be edited
        # by hand, so an entry that is not a mapping or has no integer id is skipped, not fatal.
        ids = [e["id"] for e in self.history if isinstance(e, dict) and type(e.get("id")) is int]
        next_id = max(ids) + 1 if ids else 0
        entry: dict[str, Any] = {
            "id": next_id, "revision": op.revision, "deployStartedAt": op.started_at,
            "deployedAt": op.finished_at or now(),
        }  # fmt: skip
        if op.source is not None:
            entry["source"] = op.source
        if isinstance(op.requested.get("initiatedBy"), dict):
            entry["initiatedBy"] = op.requested["initiatedBy"]
        self.history.append(entry)
        del self.history[: max(0, len(self.history) - limit)]

    def set_condition(self, kind: str, message: str) -> None:
        self.clear_condition(kind)
        self.conditions.append({"type": kind, "message": message, "lastTransitionTime": now()})

    def clear_condition(self, kind: str) -> None:
        self.conditions = [c for c in self.conditions if c.get("type") != kind]

    def to_dict(self, links: Sequence[str] = ()) -> dict[str, Any]:
        """The status document; `links`: the Application's own link annotations, which
        Argo CD lists among the external URLs."""
        sync: dict[str, Any] = {"status": self.sync_status, "revision": self.revision}
        if self.compared_to is not None:
            sync["comparedTo"] = self.compared_to
        out: dict[str, Any] = {
            "sync": sync,
            "health": {"status": self.health},
            "resources": [self.resources[k].to_dict() for k in sorted(self.resources)],
            "history": list(self.history),
            "conditions": list(self.conditions),
            # null removes a list the last write (or Argo CD) left: status is merge-patched
            "summary": {
                "images": self.summary.get("images") or None,
                "externalURLs": merge_links(self.summary.get("externalURLs", []), links) or None,
            },
        }
        if self.operation is not None:
            out["operationState"] = self.operation.to_dict()
        if self.source_type:
            out["sourceType"] = self.source_type
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> AppStatus:
        """Resume from a stored Application status (keeps the inventory for prune)."""
        raw = raw or {}
        states = [ResourceState.from_dict(r) for r in raw.get("resources") or []]
        compared = (raw.get("sync") or {}).get("comparedTo")
        return cls(
            resources={s.key: s for s in states},
            revision=str((raw.get("sync") or {}).get("revision") or ""),
            sync_status=str((raw.get("sync") or {}).get("status") or "Unknown"),
            health=str((raw.get("health") or {}).get("status") or "Healthy"),
            history=list(raw.get("history") or []),
            conditions=list(raw.get("conditions") or []),
            compared_to=compared if isinstance(compared, dict) else None,
            source_type=str(raw.get("sourceType") or ""),
            summary=stored_summary(raw.get("summary")),
        )


COMPARED_TO_LIMIT = 64 * 1024
"""Bytes of JSON above which `sync.comparedTo` is left out: it echoes the spec's source, and a
source with a megabyte of inline Helm values would double the object past etcd's limit and
make every status write fail."""


HISTORY_SOURCE_LIMIT = 8 * 1024
"""Bytes of JSON above which a history entry leaves its source out (ten entries are kept)."""


def compared_to(spec: Mapping[str, Any]) -> dict[str, Any] | None:
    """Argo CD's `status.sync.comparedTo` for an Application `spec`: its source and
    destination as compared; None when too large to echo (see COMPARED_TO_LIMIT)."""
    doc = {"source": spec.get("source") or {}, "destination": spec.get("destination") or {}}
    return doc if _fits(doc, COMPARED_TO_LIMIT) else None


def echoed_source(spec: Mapping[str, Any]) -> dict[str, Any] | None:
    """The spec's source for a history entry; None when absent or above HISTORY_SOURCE_LIMIT."""
    source = spec.get("source")
    if not isinstance(source, Mapping):
        return None
    return dict(source) if _fits(source, HISTORY_SOURCE_LIMIT) else None


def _fits(doc: Any, limit: int) -> bool:
    return len(json.dumps(doc, default=str)) <= limit


def requested_operation(
    operation: Mapping[str, Any] | None, spec: Mapping[str, Any]
) -> dict[str, Any]:
    """What `operationState.operation` says was asked: for a requested sync (`operation`, as
    the CLI, the dashboard or Argo CD's tools write it), its known fields only, bounded (the
    request is user input and is echoed into status); for automated sync, what Argo CD's
    controller records: the policy's prune and sync options, initiated by `automated`."""
    policy = _mapping(spec.get("syncPolicy"))
    if operation is None:
        sync: dict[str, Any] = {"prune": _mapping(policy.get("automated")).get("prune") is True}
        options = _strings(policy.get("syncOptions"))
        if options:
            sync["syncOptions"] = options
        return {"sync": sync, "initiatedBy": {"automated": True}}
    asked = _mapping(operation.get("sync"))
    sync = {}
    if isinstance(asked.get("revision"), str):
        sync["revision"] = asked["revision"][:256]
    for flag in ("prune", "dryRun"):
        if isinstance(asked.get(flag), bool):
            sync[flag] = asked[flag]
    options = _strings(asked.get("syncOptions"))
    if options:
        sync["syncOptions"] = options
    out: dict[str, Any] = {"sync": sync}
    by = operation.get("initiatedBy")
    if isinstance(by, Mapping):
        initiated: dict[str, Any] = {}
        if isinstance(by.get("username"), str):
            initiated["username"] = by["username"][:256]
        if isinstance(by.get("automated"), bool):
            initiated["automated"] = by["automated"]
        out["initiatedBy"] = initiated
    return out


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(value: Any, limit: int = 32) -> list[str]:
    if not isinstance(value, list):
        return []
    return [v[:256] for v in value if isinstance(v, str)][:limit]
