"""The Application status the engine maintains, in Argo CD's field names.

`status.sync` {status, revision}, `status.health` {status}, `status.resources`,
`status.operationState` {phase, message, startedAt, finishedAt, retryCount, syncResult
{revision, resources[]}}, `status.history` (last 10 syncs: id, revision, deployedAt,
deployStartedAt, result) and `status.conditions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fleet.sync.inventory import Key, ResourceState

HISTORY_LIMIT = 10


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "operation": {"sync": {"revision": self.revision}},
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

    def record_history(self, op: Operation) -> None:
        """Append a finished sync (bounded to the last 10; ids increase, as in Argo CD)."""
        # One past the highest id: the history may come from Argo CD (a takeover) or be edited
        # by hand, so an entry that is not a mapping or has no integer id is skipped, not fatal.
        ids = [e["id"] for e in self.history if isinstance(e, dict) and type(e.get("id")) is int]
        next_id = max(ids) + 1 if ids else 0
        self.history.append({
            "id": next_id, "revision": op.revision, "deployStartedAt": op.started_at,
            "deployedAt": op.finished_at or now(), "result": op.phase,
        })  # fmt: skip
        del self.history[:-HISTORY_LIMIT]

    def set_condition(self, kind: str, message: str) -> None:
        self.clear_condition(kind)
        self.conditions.append({"type": kind, "message": message, "lastTransitionTime": now()})

    def clear_condition(self, kind: str) -> None:
        self.conditions = [c for c in self.conditions if c.get("type") != kind]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sync": {"status": self.sync_status, "revision": self.revision},
            "health": {"status": self.health},
            "resources": [self.resources[k].to_dict() for k in sorted(self.resources)],
            "history": list(self.history),
            "conditions": list(self.conditions),
        }
        if self.operation is not None:
            out["operationState"] = self.operation.to_dict()
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> AppStatus:
        """Resume from a stored Application status (keeps the inventory for prune)."""
        raw = raw or {}
        states = [ResourceState.from_dict(r) for r in raw.get("resources") or []]
        return cls(
            resources={s.key: s for s in states},
            revision=str((raw.get("sync") or {}).get("revision") or ""),
            sync_status=str((raw.get("sync") or {}).get("status") or "Unknown"),
            health=str((raw.get("health") or {}).get("status") or "Healthy"),
            history=list(raw.get("history") or []),
            conditions=list(raw.get("conditions") or []),
        )
