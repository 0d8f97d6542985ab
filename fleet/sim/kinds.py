"""Resource types the simulator serves: the built-in table and types made from CRDs.

A `ResourceType` carries everything the verbs need (scope, status subresource, whether
generation is tracked) and a `FieldSchema` that tells how lists merge. Built-in types are module
level singletons shared by every cluster, so 1,000 clusters cost one table, not 1,000.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

JSON = dict[str, Any]

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NAMESPACE_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")


@dataclass(frozen=True, slots=True)
class ListType:
    """How a list merges: atomic (replaced whole), set (of scalars) or map (keyed items)."""

    kind: Literal["atomic", "set", "map"]
    keys: tuple[str, ...] = ()
    #: values used for missing keys (the API server defaults `protocol` before keying ports)
    key_defaults: tuple[tuple[str, Any], ...] = ()


ATOMIC = ListType("atomic")
_TCP = (("protocol", "TCP"),)
SET = ListType("set")


class FieldSchema(Protocol):
    """Merge semantics of a kind's fields, looked up by field-name path (list items skipped)."""

    def list_type(self, fpath: tuple[str, ...]) -> ListType: ...

    def atomic_map(self, fpath: tuple[str, ...]) -> bool: ...


_CONTAINER_LISTS = frozenset({"containers", "initContainers", "ephemeralContainers"})
_BY_NAME = frozenset(
    {
        "containers",
        "initContainers",
        "ephemeralContainers",
        "env",
        "volumes",
        "imagePullSecrets",
        "resourceClaims",
        "schedulingGates",
    }
)


class BuiltinSchema:
    """The list-type and map-type markers of the Kubernetes Go types, by field name.

    The real types tag lists with `+listType=map` and `+listMapKey`; the same field names carry
    the same markers in every built-in kind, so a name-based table reproduces them.
    """

    def list_type(self, fpath: tuple[str, ...]) -> ListType:
        name = fpath[-1] if fpath else ""
        if name in _BY_NAME:
            return ListType("map", ("name",))
        if name == "ports":
            if len(fpath) >= 2 and fpath[-2] in _CONTAINER_LISTS:
                return ListType("map", ("containerPort", "protocol"), _TCP)
            return ListType("map", ("port", "protocol"), _TCP)
        if name == "volumeMounts":
            return ListType("map", ("mountPath",))
        if name == "volumeDevices":
            return ListType("map", ("devicePath",))
        if name == "conditions":
            return ListType("map", ("type",))
        if name == "ownerReferences" and fpath[0] == "metadata":
            return ListType("map", ("uid",))
        if name == "finalizers" and fpath[0] == "metadata":
            return SET
        if name == "hostAliases":
            return ListType("map", ("ip",))
        if name == "topologySpreadConstraints":
            return ListType("map", ("topologyKey", "whenUnsatisfiable"))
        return ATOMIC

    def atomic_map(self, fpath: tuple[str, ...]) -> bool:
        if fpath in (("spec", "selector"), ("spec", "template", "spec", "nodeSelector")):
            return True
        return fpath == ("spec", "nodeSelector")


BUILTIN_SCHEMA = BuiltinSchema()


class CRDSchema:
    """Merge semantics from a CRD's openAPIV3Schema (`x-kubernetes-list-type` and friends).

    Lists without markers are atomic, as in the real server; `metadata` keeps built-in rules.
    """

    def __init__(self, schema: Mapping[str, Any] | None) -> None:
        self._lists: dict[tuple[str, ...], ListType] = {}
        self._atomic_maps: set[tuple[str, ...]] = set()
        if schema:
            self._walk(schema, ())

    def _walk(self, node: Mapping[str, Any], fpath: tuple[str, ...]) -> None:
        node_type = node.get("type")
        if node_type == "array":
            list_type = node.get("x-kubernetes-list-type")
            if list_type == "map":
                keys = tuple(node.get("x-kubernetes-list-map-keys") or ())
                self._lists[fpath] = ListType("map", keys)
            elif list_type == "set":
                self._lists[fpath] = SET
            items = node.get("items")
            if isinstance(items, Mapping):
                self._walk(items, fpath)
            return
        if node.get("x-kubernetes-map-type") == "atomic":
            self._atomic_maps.add(fpath)
        for name, child in (node.get("properties") or {}).items():
            if isinstance(child, Mapping):
                self._walk(child, (*fpath, name))
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping):
            self._walk(extra, (*fpath, "*"))

    def list_type(self, fpath: tuple[str, ...]) -> ListType:
        if fpath and fpath[0] == "metadata":
            return BUILTIN_SCHEMA.list_type(fpath)
        return self._lists.get(fpath, ATOMIC)

    def atomic_map(self, fpath: tuple[str, ...]) -> bool:
        return fpath in self._atomic_maps


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One served group/version/resource."""

    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool
    singular: str
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    has_status: bool = False
    #: scale subresource as (spec replicas path, status replicas path, label selector path)
    scale: tuple[str, str, str] | None = None
    tracks_generation: bool = False
    builtin: bool = True
    schema: FieldSchema = field(default=BUILTIN_SCHEMA, compare=False, hash=False)
    #: a CRD version's additionalPrinterColumns as (name, type, jsonPath, priority)
    printer_columns: tuple[tuple[str, str, str, int], ...] = ()
    #: a CRD version's openAPIV3Schema (pruning and validation of custom resources)
    openapi_schema: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def gr(self) -> str:
        """Storage key: one store per group/resource, shared by all served versions."""
        return f"{self.resource}.{self.group}"

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def verbs(self) -> tuple[str, ...]:
        return NAMESPACE_VERBS if self.gr == "namespaces." else VERBS


def _t(
    group: str,
    resource: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: Iterable[str] = (),
    status: bool = False,
    generation: bool = False,
    all_category: bool = False,
    version: str = "v1",
    scale: bool = False,
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        resource=resource,
        kind=kind,
        namespaced=namespaced,
        singular=kind.lower(),
        short_names=tuple(short),
        categories=("all",) if all_category else (),
        has_status=status,
        scale=(".spec.replicas", ".status.replicas", "") if scale else None,
        tracks_generation=generation,
    )


def _workload(resource: str, kind: str, short: str, *, scale: bool = False) -> ResourceType:
    return _t(
        "apps",
        resource,
        kind,
        short=[short],
        status=True,
        generation=True,
        all_category=True,
        scale=scale,
    )


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _t("", "namespaces", "Namespace", namespaced=False, short=["ns"], status=True),
    _t("", "configmaps", "ConfigMap", short=["cm"]),
    _t("", "secrets", "Secret"),
    _t("", "services", "Service", short=["svc"], status=True, all_category=True),
    _t("", "serviceaccounts", "ServiceAccount", short=["sa"]),
    _t("", "pods", "Pod", short=["po"], status=True, all_category=True),
    _t("", "persistentvolumeclaims", "PersistentVolumeClaim", short=["pvc"], status=True),
    _t("", "events", "Event", short=["ev"]),
    _workload("deployments", "Deployment", "deploy", scale=True),
    _workload("statefulsets", "StatefulSet", "sts", scale=True),
    _workload("daemonsets", "DaemonSet", "ds"),
    _workload("replicasets", "ReplicaSet", "rs", scale=True),
    _t("batch", "jobs", "Job", status=True, generation=True, all_category=True),
    _t(
        "batch",
        "cronjobs",
        "CronJob",
        short=["cj"],
        status=True,
        generation=True,
        all_category=True,
    ),
    _t(
        "autoscaling",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        short=["hpa"],
        status=True,
        all_category=True,
        version="v2",
    ),
    _t(
        "policy",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        short=["pdb"],
        status=True,
        generation=True,
    ),
    _t("networking.k8s.io", "networkpolicies", "NetworkPolicy", short=["netpol"], generation=True),
    _t("networking.k8s.io", "ingresses", "Ingress", short=["ing"], status=True, generation=True),
    _t("rbac.authorization.k8s.io", "roles", "Role"),
    _t("rbac.authorization.k8s.io", "rolebindings", "RoleBinding"),
    _t("rbac.authorization.k8s.io", "clusterroles", "ClusterRole", namespaced=False),
    _t("rbac.authorization.k8s.io", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
    _t("coordination.k8s.io", "leases", "Lease"),
    replace(
        _t(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            namespaced=False,
            short=["crd", "crds"],
            status=True,
            generation=True,
        ),
        categories=("api-extensions",),
    ),
)

NAMESPACES = BUILTIN_TYPES[0]
CRDS = BUILTIN_TYPES[-1]

BUILTIN_BY_GVR: dict[tuple[str, str, str], ResourceType] = {
    (t.group, t.version, t.resource): t for t in BUILTIN_TYPES
}

#: kinds whose list items are served without kind/apiVersion, as typed Go lists are
BUILTIN_GROUPS: tuple[str, ...] = tuple(dict.fromkeys(t.group for t in BUILTIN_TYPES))


def _crd_scale(scale: Any) -> tuple[str, str, str] | None:
    if not isinstance(scale, Mapping):
        return None
    return (
        str(scale.get("specReplicasPath", ".spec.replicas")),
        str(scale.get("statusReplicasPath", ".status.replicas")),
        str(scale.get("labelSelectorPath", "")),
    )


def types_from_crd(crd: Mapping[str, Any]) -> list[ResourceType]:
    """The served versions of a CRD, each as a `ResourceType`."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = str(spec.get("group", ""))
    plural = str(names.get("plural", ""))
    kind = str(names.get("kind", ""))
    if not (group and plural and kind):
        return []
    namespaced = spec.get("scope", "Namespaced") == "Namespaced"
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or {}
        subresources = version.get("subresources") or spec.get("subresources") or {}
        out.append(
            ResourceType(
                group=group,
                version=str(version.get("name", "")),
                resource=plural,
                kind=kind,
                namespaced=namespaced,
                singular=str(names.get("singular") or kind.lower()),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                has_status="status" in subresources,
                scale=_crd_scale(subresources.get("scale")),
                tracks_generation=True,
                builtin=False,
                schema=CRDSchema(schema),
                openapi_schema=schema or None,
                printer_columns=tuple(
                    (
                        str(c.get("name", "")),
                        str(c.get("type", "string")),
                        str(c.get("jsonPath", "")),
                        int(c.get("priority", 0)),
                    )
                    for c in version.get("additionalPrinterColumns") or ()
                ),
            )
        )
    return out
