"""What the engine needs from an Application: identity, destination, syncPolicy, ignore rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet.sync.ignore import IgnoreRule
from fleet.sync.retry import RetryPolicy
from fleet.sync.status import HISTORY_LIMIT, MAX_HISTORY_LIMIT
from fleet.sync.tracking import AppRef


@dataclass(frozen=True)
class AppSpec:
    app: AppRef
    namespace: str = ""  # spec.destination.namespace: default for namespaced objects
    automated: bool = False
    prune: bool = False
    self_heal: bool = False
    allow_empty: bool = False
    sync_options: frozenset[str] = frozenset()
    ignore: tuple[IgnoreRule, ...] = ()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    namespace_metadata: Mapping[str, Mapping[str, str]] = field(
        default_factory=dict, compare=False, hash=False
    )
    """`syncPolicy.managedNamespaceMetadata` ({labels, annotations}) for CreateNamespace."""
    history_limit: int = HISTORY_LIMIT
    """`spec.revisionHistoryLimit`: successful syncs kept in `status.history` (Argo CD's
    default 10; 0 keeps none), at most MAX_HISTORY_LIMIT."""

    def option(self, name: str, value: str = "true") -> bool:
        return f"{name}={value}" in self.sync_options

    @property
    def reads_managed_fields(self) -> bool:
        """An ignoreDifferences rule names managedFieldsManagers: comparing needs the live
        objects' managedFields, which the shared watch caches (WatchHub) do not keep."""
        return any(rule.managers for rule in self.ignore)

    @classmethod
    def from_application(cls, application: Mapping[str, Any]) -> AppSpec:
        """From an Argo CD Application document (`metadata`, `spec`)."""
        meta = application.get("metadata") or {}
        spec = application.get("spec") or {}
        policy = spec.get("syncPolicy") or {}
        automated = policy.get("automated")
        auto = automated or {}
        return cls(
            app=AppRef(str(meta.get("namespace") or "argocd"), str(meta.get("name", ""))),
            namespace=str((spec.get("destination") or {}).get("namespace") or ""),
            automated=automated is not None and auto.get("enabled") is not False,
            prune=bool(auto.get("prune")),
            self_heal=bool(auto.get("selfHeal")),
            allow_empty=bool(auto.get("allowEmpty")),
            sync_options=frozenset(str(o) for o in policy.get("syncOptions") or ()),
            ignore=tuple(IgnoreRule.parse(r) for r in spec.get("ignoreDifferences") or ()),
            retry=RetryPolicy.parse(policy.get("retry")),
            history_limit=_history_limit(spec.get("revisionHistoryLimit")),
            namespace_metadata={
                key: {str(k): str(v) for k, v in values.items()}
                for key, values in (policy.get("managedNamespaceMetadata") or {}).items()
                if key in ("labels", "annotations") and isinstance(values, Mapping) and values
            },
        )


def _history_limit(value: Any) -> int:
    """A limit that is not a whole number of at least 0 (Argo CD's CRD refuses one) is the
    default."""
    if type(value) is not int or value < 0:
        return HISTORY_LIMIT
    return min(value, MAX_HISTORY_LIMIT)
