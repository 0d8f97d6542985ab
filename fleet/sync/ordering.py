"""Apply order, as Argo CD's gitops-engine does it: phase, wave, kind, name.

Namespaces and CRDs go first (their dependants cannot be created before them), then sync waves
ascending (annotation `argocd.argoproj.io/sync-wave`, else `helm.sh/hook-weight`, default 0),
then `kubeResourceKinds` order within a wave, unknown kinds last, then by name so the order is
deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fleet.sync.hooks import HELM_WEIGHT
from fleet.sync.tracking import SYNC_WAVE

KIND_ORDER = [
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
    "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
    "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
    "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList",
    "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController",
    "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob",
    "IngressClass", "Ingress", "APIService",
]  # fmt: skip
_RANK = {kind: i for i, kind in enumerate(KIND_ORDER)}
PRE_KINDS = frozenset({"Namespace", "CustomResourceDefinition"})


def wave_of(obj: dict[str, Any]) -> int:
    """`argocd.argoproj.io/sync-wave`, else Helm's `helm.sh/hook-weight` (as gitops-engine reads
    waves: a chart's hook weights order its hooks), else 0."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(SYNC_WAVE)
    if raw is not None:
        try:
            return int(str(raw).strip())
        except ValueError:
            pass
    raw = annotations.get(HELM_WEIGHT)
    try:
        return int(str(raw).strip()) if raw is not None else 0
    except ValueError:
        return 0


def sort_key(obj: dict[str, Any]) -> tuple[int, int, int, str, str]:
    kind = str(obj.get("kind", ""))
    meta = obj.get("metadata") or {}
    pre = 0 if kind in PRE_KINDS else 1
    wave = 0 if pre == 0 else wave_of(obj)  # everything may depend on them: waves do not apply
    return (pre, wave, _RANK.get(kind, len(KIND_ORDER)), kind, str(meta.get("name", "")))


def waves(objs: Iterable[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Objects grouped into steps applied one after the other (pre-phase, then each wave)."""
    steps: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for obj in sorted(objs, key=sort_key):
        pre, wave, *_ = sort_key(obj)
        steps.setdefault((pre, wave), []).append(obj)
    return [steps[key] for key in sorted(steps)]
