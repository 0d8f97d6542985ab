"""Decoding the Kubernetes protobuf encoding for the objects kubectl's generators send.

kubectl's typed clients (`kubectl create deployment|configmap|secret|namespace|job|service|
serviceaccount|role|rolebinding|clusterrole|clusterrolebinding`, `kubectl run`) send bodies as
`application/vnd.kubernetes.protobuf`. Decoding needs the field numbers of each Go type; the
schemas below cover what those generators emit. A field outside them is answered with 415
rather than silently dropped.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fleet.sim.errors import ApiError
from fleet.sim.openapi_pb import ProtobufError, read_varint

JSON = dict[str, Any]
MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# A field is (json name, type, repeated); a type is a scalar name, a message name, or
# "map:<value type>" for map<string, value>. Go's protobuf code writes every non-pointer field,
# even when it is zero, while JSON omits them: zero scalars are dropped, except the pointer
# ("int?", "bool?") fields and the ones JSON always has, where a present zero was set on purpose.
Field = tuple[str, str, bool]
Schema = dict[int, Field]


def _f(name: str, kind: str = "string", repeated: bool = False) -> Field:
    return (name, kind, repeated)


SCHEMAS: dict[str, Schema] = {
    "Unknown": {1: _f("typeMeta", "TypeMeta"), 2: _f("raw", "raw"),
                3: _f("contentEncoding"), 4: _f("contentType")},
    "TypeMeta": {1: _f("apiVersion"), 2: _f("kind")},
    "ObjectMeta": {
        1: _f("name"), 2: _f("generateName"), 3: _f("namespace"), 4: _f("selfLink"),
        5: _f("uid"), 6: _f("resourceVersion"), 7: _f("generation", "int"),
        8: _f("creationTimestamp", "Time"), 9: _f("deletionTimestamp", "Time"),
        10: _f("deletionGracePeriodSeconds", "int?"), 11: _f("labels", "map:string"),
        12: _f("annotations", "map:string"), 13: _f("ownerReferences", "OwnerReference", True),
        14: _f("finalizers", "string", True),
    },
    "OwnerReference": {1: _f("kind"), 3: _f("name"), 4: _f("uid"), 5: _f("apiVersion"),
                       6: _f("controller", "bool?"), 7: _f("blockOwnerDeletion", "bool?")},
    "Time": {1: _f("seconds", "int"), 2: _f("nanos", "int")},
    "LabelSelector": {1: _f("matchLabels", "map:string"),
                      2: _f("matchExpressions", "LabelSelectorRequirement", True)},
    "LabelSelectorRequirement": {1: _f("key"), 2: _f("operator"),
                                 3: _f("values", "string", True)},
    "IntOrString": {1: _f("type", "int?"), 2: _f("intVal", "int?"), 3: _f("strVal")},
    "Quantity": {1: _f("string")},
    "Empty": {},
    "ConfigMap": {1: _f("metadata", "ObjectMeta"), 2: _f("data", "map:string"),
                  3: _f("binaryData", "map:bytes"), 4: _f("immutable", "bool?")},
    "Secret": {1: _f("metadata", "ObjectMeta"), 2: _f("data", "map:bytes"), 3: _f("type"),
               4: _f("stringData", "map:string"), 5: _f("immutable", "bool?")},
    "Namespace": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "NamespaceSpec"),
                  3: _f("status", "Empty")},
    "NamespaceSpec": {1: _f("finalizers", "string", True)},
    "ServiceAccount": {1: _f("metadata", "ObjectMeta"),
                       3: _f("imagePullSecrets", "LocalObjectReference", True),
                       4: _f("automountServiceAccountToken", "bool?")},
    "LocalObjectReference": {1: _f("name")},
    "Deployment": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "DeploymentSpec"),
                   3: _f("status", "Empty")},
    "DeploymentSpec": {1: _f("replicas", "int?"), 2: _f("selector", "LabelSelector"),
                       3: _f("template", "PodTemplateSpec"),
                       4: _f("strategy", "DeploymentStrategy"), 5: _f("minReadySeconds", "int"),
                       6: _f("revisionHistoryLimit", "int?"), 7: _f("paused", "bool"),
                       9: _f("progressDeadlineSeconds", "int?")},
    "DeploymentStrategy": {1: _f("type"), 2: _f("rollingUpdate", "RollingUpdateDeployment")},
    "RollingUpdateDeployment": {1: _f("maxUnavailable", "IntOrString"),
                                2: _f("maxSurge", "IntOrString")},
    "Job": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "JobSpec"), 3: _f("status", "Empty")},
    "JobSpec": {1: _f("parallelism", "int?"), 2: _f("completions", "int?"),
                3: _f("activeDeadlineSeconds", "int?"), 4: _f("selector", "LabelSelector"),
                5: _f("manualSelector", "bool?"), 6: _f("template", "PodTemplateSpec"),
                7: _f("backoffLimit", "int?"), 8: _f("ttlSecondsAfterFinished", "int?"),
                9: _f("completionMode"), 10: _f("suspend", "bool?")},
    "PodTemplateSpec": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "PodSpec")},
    "Pod": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "PodSpec"), 3: _f("status", "Empty")},
    "PodSpec": {2: _f("containers", "Container", True), 3: _f("restartPolicy"),
                4: _f("terminationGracePeriodSeconds", "int?"),
                5: _f("activeDeadlineSeconds", "int?"), 6: _f("dnsPolicy"),
                7: _f("nodeSelector", "map:string"), 8: _f("serviceAccountName"),
                9: _f("serviceAccount"), 10: _f("nodeName"),
                14: _f("securityContext", "Empty"),
                15: _f("imagePullSecrets", "LocalObjectReference", True),
                19: _f("schedulerName"), 20: _f("initContainers", "Container", True)},
    "Container": {1: _f("name"), 2: _f("image"), 3: _f("command", "string", True),
                  4: _f("args", "string", True), 5: _f("workingDir"),
                  6: _f("ports", "ContainerPort", True), 7: _f("env", "EnvVar", True),
                  8: _f("resources", "ResourceRequirements"),
                  13: _f("terminationMessagePath"), 14: _f("imagePullPolicy"),
                  16: _f("stdin", "bool"), 17: _f("stdinOnce", "bool"), 18: _f("tty", "bool"),
                  20: _f("terminationMessagePolicy")},
    "ContainerPort": {1: _f("name"), 2: _f("hostPort", "int"), 3: _f("containerPort", "int?"),
                      4: _f("protocol"), 5: _f("hostIP")},
    "EnvVar": {1: _f("name"), 2: _f("value")},
    "ResourceRequirements": {1: _f("limits", "map:Quantity"), 2: _f("requests", "map:Quantity")},
    "Service": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "ServiceSpec"),
                3: _f("status", "ServiceStatus")},
    "ServiceStatus": {1: _f("loadBalancer", "Empty")},
    "ServiceSpec": {1: _f("ports", "ServicePort", True), 2: _f("selector", "map:string"),
                    3: _f("clusterIP"), 4: _f("type"), 5: _f("externalIPs", "string", True),
                    7: _f("sessionAffinity"), 11: _f("externalName")},
    "ServicePort": {1: _f("name"), 2: _f("protocol"), 3: _f("port", "int?"),
                    4: _f("targetPort", "IntOrString"), 5: _f("nodePort", "int")},
    "Role": {1: _f("metadata", "ObjectMeta"), 2: _f("rules", "PolicyRule", True)},
    "ClusterRole": {1: _f("metadata", "ObjectMeta"), 2: _f("rules", "PolicyRule", True)},
    "PolicyRule": {1: _f("verbs", "string", True), 2: _f("apiGroups", "string", True),
                   3: _f("resources", "string", True), 4: _f("resourceNames", "string", True),
                   5: _f("nonResourceURLs", "string", True)},
    "RoleBinding": {1: _f("metadata", "ObjectMeta"), 2: _f("subjects", "Subject", True),
                    3: _f("roleRef", "RoleRef")},
    "ClusterRoleBinding": {1: _f("metadata", "ObjectMeta"), 2: _f("subjects", "Subject", True),
                           3: _f("roleRef", "RoleRef")},
    "Subject": {1: _f("kind"), 2: _f("apiGroup"), 3: _f("name"), 4: _f("namespace")},
    "RoleRef": {1: _f("apiGroup"), 2: _f("kind"), 3: _f("name")},
}  # fmt: skip


def _unsupported(what: str) -> ApiError:
    return ApiError(
        415,
        f"fleet-sim cannot decode this protobuf body ({what}); send application/json instead",
    )


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """openapi_pb's varint reader, its error answered as a request body's (415)."""
    try:
        return read_varint(data, pos)
    except ProtobufError as error:
        raise _unsupported(str(error)) from None


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: ints for varints, bytes for length-delimited."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            out.append((number, data[pos : pos + length]))
            pos += length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            out.append((number, int.from_bytes(data[pos : pos + size], "little")))
            pos += size
        else:
            raise _unsupported(f"wire type {wire}")
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _time(fields: JSON) -> str | None:
    if not fields.get("seconds"):
        return None  # the zero Time, `null` in JSON
    stamp = datetime.fromtimestamp(int(fields["seconds"]), UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


_POST: dict[str, Callable[[JSON], Any]] = {
    "Time": _time,
    "IntOrString": lambda f: f.get("strVal", "") if f.get("type") == 1 else f.get("intVal", 0),
    "Quantity": lambda f: f.get("string", ""),
}


def _scalar(kind: str, value: int | bytes) -> Any:
    if kind == "string":
        if not isinstance(value, bytes):
            raise _unsupported("expected a string")
        return value.decode()
    if kind == "bytes":
        return base64.b64encode(value if isinstance(value, bytes) else b"").decode()
    if kind in ("int", "int?"):
        return _signed(value) if isinstance(value, int) else 0
    if kind in ("bool", "bool?"):
        return bool(value)
    raise _unsupported(f"type {kind}")


def decode_message(message: str, data: bytes) -> Any:
    schema = SCHEMAS.get(message)
    if schema is None:
        raise _unsupported(f"message {message}")
    out: JSON = {}
    for number, value in _fields(data):
        field = schema.get(number)
        if field is None:
            if message == "Empty" or value in (0, b""):
                continue  # a zero value Go wrote for a field JSON would omit
            raise _unsupported(f"field {number} of {message}")
        name, kind, repeated = field
        if kind.startswith("map:"):
            entry = dict(_fields(value if isinstance(value, bytes) else b""))
            key = entry.get(1, b"")
            value_kind = kind[4:]
            raw_value = entry.get(2, b"")
            mapped = (
                decode_message(value_kind, raw_value if isinstance(raw_value, bytes) else b"")
                if value_kind in SCHEMAS
                else _scalar(value_kind, raw_value)
            )
            out.setdefault(name, {})[key.decode() if isinstance(key, bytes) else str(key)] = mapped
            continue
        if kind == "raw":
            decoded: Any = value
        elif kind in SCHEMAS:
            decoded = decode_message(kind, value if isinstance(value, bytes) else b"")
        else:
            decoded = _scalar(kind, value)
            if not repeated and kind in ("string", "int", "bool") and not decoded:
                continue  # a zero value JSON would omit
        if decoded is None:
            continue
        if repeated:
            out.setdefault(name, []).append(decoded)
        else:
            out[name] = decoded
    post = _POST.get(message)
    return post(out) if post else out


def decode(body: bytes) -> JSON:
    """A protobuf-encoded object (with the `k8s\\0` envelope) as its JSON form."""
    if not body.startswith(MAGIC):
        raise _unsupported("missing k8s envelope")
    envelope = decode_message("Unknown", body[len(MAGIC) :])
    type_meta = envelope.get("typeMeta") or {}
    kind = str(type_meta.get("kind", ""))
    raw = envelope.get("raw", b"")
    obj = decode_message(kind, raw if isinstance(raw, bytes) else b"")
    if not isinstance(obj, dict):
        raise _unsupported(f"kind {kind}")
    return {"apiVersion": type_meta.get("apiVersion", ""), "kind": kind, **obj}
