"""The `Cluster` resource (fleet.gitops.dev/v1alpha1): a registered member cluster.

The resource holds where the cluster is and how it is grouped (labels feed the clusters
generator); credentials stay in the Secret `spec.secretRef` names, never in the resource.
Validation mirrors crds/cluster.yaml so bad objects are reported with the same field paths even
when they reach fleet without passing an API server (tests, `fleet cluster add`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fleet.api.group import FLEET_CLUSTER

GROUP = FLEET_CLUSTER.group
VERSION = FLEET_CLUSTER.version
API_VERSION = FLEET_CLUSTER.api_version
KIND = FLEET_CLUSTER.kind
PLURAL = FLEET_CLUSTER.plural

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SPEC_FIELDS = {"server", "secretRef", "labels", "annotations", "project", "insecure"}


class InvalidClusterError(ValueError):
    """A Cluster object does not match the schema; `path` is e.g. `spec.secretRef.name`."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass(frozen=True, slots=True)
class SecretRef:
    name: str
    key: str | None = None
    """A data key holding a whole kubeconfig; None: the Secret is in fleet's flat format."""


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    server: str
    secret_ref: SecretRef
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    project: str = ""
    insecure: bool | None = None
    """Overrides the Secret's `insecure` when set; TLS is verified unless something says true."""


@dataclass(frozen=True, slots=True)
class Cluster:
    name: str
    namespace: str
    spec: ClusterSpec
    resource_version: str = ""


def _string_map(value: Any, path: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidClusterError(path, "expected a map of strings")
    for key, item in value.items():
        if not isinstance(item, str):
            raise InvalidClusterError(f"{path}.{key}", "expected a string")
    return dict(value)


def _string(value: Any, path: str, *, required: bool = False) -> str:
    if value is None:
        if required:
            raise InvalidClusterError(path, "required")
        return ""
    if not isinstance(value, str):
        raise InvalidClusterError(path, "expected a string")
    if required and not value:
        raise InvalidClusterError(path, "must not be empty")
    return value


def parse_spec(spec: Any, path: str = "spec") -> ClusterSpec:
    if not isinstance(spec, Mapping):
        raise InvalidClusterError(path, "required object")
    unknown = sorted(set(spec) - _SPEC_FIELDS)
    if unknown:
        raise InvalidClusterError(f"{path}.{unknown[0]}", "unknown field")
    server = _string(spec.get("server"), f"{path}.server", required=True)
    try:
        parts = urlsplit(server)
        _ = parts.port  # a port out of range raises here, not later in a client
    except ValueError:  # e.g. "https://[::1": urlsplit raises, and the registry must not
        raise InvalidClusterError(f"{path}.server", "not a valid URL") from None
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise InvalidClusterError(f"{path}.server", "expected an https:// URL")
    ref = spec.get("secretRef")
    if not isinstance(ref, Mapping):
        raise InvalidClusterError(f"{path}.secretRef", "required object")
    for key in sorted(set(ref) - {"name", "key"}):
        raise InvalidClusterError(f"{path}.secretRef.{key}", "unknown field")
    ref_name = _string(ref.get("name"), f"{path}.secretRef.name", required=True)
    ref_key = _string(ref.get("key"), f"{path}.secretRef.key") or None
    insecure = spec.get("insecure")
    if insecure is not None and not isinstance(insecure, bool):
        raise InvalidClusterError(f"{path}.insecure", "expected a boolean")
    return ClusterSpec(
        server=server,
        secret_ref=SecretRef(ref_name, ref_key),
        labels=_string_map(spec.get("labels"), f"{path}.labels"),
        annotations=_string_map(spec.get("annotations"), f"{path}.annotations"),
        project=_string(spec.get("project"), f"{path}.project"),
        insecure=insecure,
    )


def parse_cluster(obj: Mapping[str, Any]) -> Cluster:
    """A Cluster from its JSON form (as listed from the hub)."""
    if obj.get("apiVersion") not in (None, API_VERSION):
        raise InvalidClusterError("apiVersion", f"expected {API_VERSION}")
    if obj.get("kind") not in (None, KIND):
        raise InvalidClusterError("kind", f"expected {KIND}")
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        raise InvalidClusterError("metadata", "required object")
    name = _string(meta.get("name"), "metadata.name", required=True)
    if len(name) > 63 or not _DNS_LABEL.match(name):
        raise InvalidClusterError("metadata.name", "must be a DNS label (RFC 1123)")
    return Cluster(
        name=name,
        namespace=_string(meta.get("namespace"), "metadata.namespace"),
        spec=parse_spec(obj.get("spec")),
        resource_version=_string(meta.get("resourceVersion"), "metadata.resourceVersion"),
    )


def cluster_object(name: str, namespace: str, spec: ClusterSpec) -> dict[str, Any]:
    """The JSON form of a Cluster (what `fleet cluster add` creates)."""
    ref: dict[str, str] = {"name": spec.secret_ref.name}
    if spec.secret_ref.key:
        ref["key"] = spec.secret_ref.key
    body: dict[str, Any] = {"server": spec.server, "secretRef": ref}
    if spec.labels:
        body["labels"] = dict(spec.labels)
    if spec.annotations:
        body["annotations"] = dict(spec.annotations)
    if spec.project:
        body["project"] = spec.project
    if spec.insecure is not None:
        body["insecure"] = spec.insecure
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }
