"""Identity of managed objects and their per-object state (Argo CD's `status.resources` items)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleet.sync.tracking import group_of

Key = tuple[str, str, str, str]  # group, kind, namespace, name


def key_of(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return (
        group_of(str(obj.get("apiVersion", ""))),
        str(obj.get("kind", "")),
        str(meta.get("namespace") or ""),
        str(meta.get("name", "")),
    )


def describe(key: Key) -> str:
    group, kind, ns, name = key
    return f"{group}/{kind}:{ns}/{name}"


@dataclass(slots=True)
class ResourceState:
    """One `status.resources` entry."""

    group: str
    version: str
    kind: str
    namespace: str
    name: str
    status: str = "OutOfSync"  # Synced | OutOfSync
    health: str | None = None
    health_message: str = ""
    requires_pruning: bool = False
    hook: bool = False
    """A live hook (Job, Pod, ...) left by a sync: listed, never compared, pruned or counted in
    the Application's sync status or health (Argo CD's `hook: true`)."""

    @property
    def key(self) -> Key:
        return (self.group, self.kind, self.namespace, self.name)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "group": self.group,
            "version": self.version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "status": self.status,
        }
        if self.health is not None:
            out["health"] = {"status": self.health}
            if self.health_message:
                out["health"]["message"] = self.health_message
        if self.requires_pruning:
            out["requiresPruning"] = True
        if self.hook:
            out["hook"] = True
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ResourceState:
        health = raw.get("health") or {}
        return cls(
            group=str(raw.get("group") or ""),
            version=str(raw.get("version") or ""),
            kind=str(raw.get("kind") or ""),
            namespace=str(raw.get("namespace") or ""),
            name=str(raw.get("name") or ""),
            status=str(raw.get("status") or "OutOfSync"),
            health=health.get("status"),
            health_message=str(health.get("message") or ""),
            requires_pruning=bool(raw.get("requiresPruning")),
            hook=bool(raw.get("hook")),
        )
