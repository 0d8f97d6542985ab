"""Defaults the API server fills in when it decodes a built-in object.

Controllers compare what they applied with what the server returns, so a simulator that left
out `strategy`, `imagePullPolicy` or `dnsPolicy` would hide every diff-normalization bug. These
are the defaults of the Kubernetes 1.32 API types for the kinds the simulator serves.
"""

from __future__ import annotations

import base64
from ipaddress import IPv4Address
from typing import Any

from fleet.sim.kinds import ResourceType

JSON = dict[str, Any]


class ClusterIPs:
    """Hands out Service cluster IPs from 10.96.0.0/12 like the service IP allocator."""

    __slots__ = ("_next",)

    def __init__(self) -> None:
        self._next = int(IPv4Address("10.96.0.10"))

    def allocate(self) -> str:
        self._next += 1
        return str(IPv4Address(self._next))


def _dict(parent: JSON, key: str) -> JSON | None:
    value = parent.get(key)
    return value if isinstance(value, dict) else None


def _pull_policy(image: str) -> str:
    name = image.rsplit("/", 1)[-1]
    if "@" in name:
        return "IfNotPresent"
    tag = name.split(":", 1)[1] if ":" in name else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _container(container: Any) -> None:
    if not isinstance(container, dict):
        return
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("imagePullPolicy", _pull_policy(str(container.get("image", ""))))
    container.setdefault("resources", {})
    for port in container.get("ports") or ():
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")


def pod_spec(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    for field in ("containers", "initContainers", "ephemeralContainers"):
        for container in spec.get(field) or ():
            _container(container)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")


def _template(spec: JSON) -> None:
    template = _dict(spec, "template")
    if template is not None:
        pod_spec(template.get("spec"))


def _rolling(spec: JSON, key: str, rolling: JSON) -> None:
    strategy = spec.setdefault(key, {})
    if isinstance(strategy, dict):
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            current = strategy.setdefault("rollingUpdate", {})
            if isinstance(current, dict):
                for name, value in rolling.items():
                    current.setdefault(name, value)


def _deployment(spec: JSON) -> None:
    spec.setdefault("replicas", 1)
    _rolling(spec, "strategy", {"maxUnavailable": "25%", "maxSurge": "25%"})
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)


def _statefulset(spec: JSON) -> None:
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    _rolling(spec, "updateStrategy", {"partition": 0})
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault(
        "persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"}
    )


def _daemonset(spec: JSON) -> None:
    _rolling(spec, "updateStrategy", {"maxUnavailable": 1, "maxSurge": 0})
    spec.setdefault("revisionHistoryLimit", 10)


def _job(obj: JSON, spec: JSON) -> None:
    spec.setdefault("parallelism", 1)
    spec.setdefault("completions", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    meta = _dict(obj, "metadata") or {}
    uid, name = meta.get("uid"), meta.get("name")
    if uid and not spec.get("manualSelector") and "selector" not in spec:
        # the Job's generated selector, matched by labels added to its pod template
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        template = spec.setdefault("template", {})
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        for key, value in (
            ("batch.kubernetes.io/controller-uid", uid),
            ("batch.kubernetes.io/job-name", name),
            ("controller-uid", uid),
            ("job-name", name),
        ):
            labels.setdefault(key, value)


def _service(spec: JSON, ips: ClusterIPs) -> None:
    spec.setdefault("type", "ClusterIP")
    for port in spec.get("ports") or ():
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    if spec["type"] != "ExternalName":
        if not spec.get("clusterIP"):
            spec["clusterIP"] = ips.allocate()
        if spec["clusterIP"] != "None":
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    spec.setdefault("sessionAffinity", "None")


def _secret(obj: JSON) -> None:
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict):
        data = obj.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
    obj.setdefault("type", "Opaque")


def apply_defaults(rt: ResourceType, obj: JSON, ips: ClusterIPs) -> None:
    """Fill in the defaults of built-in kinds in place (custom resources get none)."""
    if not rt.builtin:
        return
    if rt.kind == "Secret":
        _secret(obj)
        return
    if rt.kind == "Namespace":
        # the API server labels every namespace with its own name
        meta = obj.setdefault("metadata", {})
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta.get("name", "")
        return
    spec = _dict(obj, "spec")
    if spec is None:
        return
    kind = rt.kind
    if kind == "Pod":
        pod_spec(spec)
    elif kind == "Deployment":
        _deployment(spec)
    elif kind == "StatefulSet":
        _statefulset(spec)
    elif kind == "DaemonSet":
        _daemonset(spec)
    elif kind == "ReplicaSet":
        spec.setdefault("replicas", 1)
    elif kind == "Job":
        _job(obj, spec)
    elif kind == "Service":
        _service(spec, ips)
    elif kind == "PersistentVolumeClaim":
        spec.setdefault("volumeMode", "Filesystem")
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        _template(spec)
