"""Server-side printing: `Table` responses for kubectl's `get` (NAME/READY/AGE columns).

kubectl asks for `as=Table` and prints whatever columns the server sends; without tables it
falls back to NAME/AGE for everything. The columns follow the API server's printers for the
built-in kinds; other kinds get Name and Age, like a CRD without printer columns.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fleet.sim.kinds import ResourceType

JSON = dict[str, Any]
Cell = Callable[[JSON], Any]


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if rest == 0 else f"{years}y{rest}d"
    return f"{hours // 24 // 365}y"


def _age(obj: JSON) -> str:
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    created = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return human_duration((datetime.now(UTC) - created).total_seconds())


def _get(obj: JSON, *path: str, default: Any = None) -> Any:
    node: Any = obj
    for key in path:
        if not isinstance(node, dict):
            return default
        node = node.get(key)
    return default if node is None else node


def _name(obj: JSON) -> str:
    return str(_get(obj, "metadata", "name", default=""))


def _ports(obj: JSON) -> str:
    ports = _get(obj, "spec", "ports", default=[])
    out = []
    for p in ports:
        text = f"{p.get('port')}/{p.get('protocol', 'TCP')}"
        if p.get("nodePort"):
            text = f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', 'TCP')}"
        out.append(text)
    return ",".join(out) or "<none>"


def _job_status(obj: JSON) -> str:
    conditions = {
        c.get("type"): c.get("status") for c in _get(obj, "status", "conditions", default=[])
    }
    if conditions.get("Complete") == "True":
        return "Complete"
    if conditions.get("Failed") == "True":
        return "Failed"
    if conditions.get("Suspended") == "True":
        return "Suspended"
    return "Running"


def _containers(obj: JSON) -> str:
    items = _get(obj, "spec", "template", "spec", "containers", default=[])
    return ",".join(str(c.get("name", "")) for c in items)


def _images(obj: JSON) -> str:
    items = _get(obj, "spec", "template", "spec", "containers", default=[])
    return ",".join(str(c.get("image", "")) for c in items)


def _field(*path: str, default: Any = "") -> Cell:
    """A cell showing the value at `path`."""
    return lambda obj: _get(obj, *path, default=default)


def _ratio(top: tuple[str, ...], bottom: tuple[str, ...], bottom_default: int = 0) -> Cell:
    """A `3/4`-style cell."""
    return lambda obj: f"{_get(obj, *top, default=0)}/{_get(obj, *bottom, default=bottom_default)}"


def _count(key: str) -> Cell:
    return lambda obj: len(obj.get(key) or {})


def _labels(*path: str) -> Cell:
    def cell(obj: JSON) -> str:
        labels = _get(obj, *path, default={})
        return ",".join(f"{k}={v}" for k, v in labels.items()) or "<none>"

    return cell


def _role_ref(obj: JSON) -> str:
    return f"{_get(obj, 'roleRef', 'kind')}/{_get(obj, 'roleRef', 'name')}"


def _hosts(obj: JSON) -> str:
    return ",".join(str(r.get("host", "*")) for r in _get(obj, "spec", "rules", default=[])) or "*"


def _pod_ready(obj: JSON) -> str:
    statuses = _get(obj, "status", "containerStatuses", default=[]) or []
    ready = sum(1 for s in statuses if isinstance(s, dict) and s.get("ready"))
    return f"{ready}/{len(_get(obj, 'spec', 'containers', default=[]))}"


Column = tuple[str, str, Cell, int]  # (name, type, cell, priority)

_NAME: Column = ("Name", "string", _name, 0)
_AGE: Column = ("Age", "string", _age, 0)
_READY = _ratio(("status", "readyReplicas"), ("spec", "replicas"))
_WORKLOAD_WIDE: list[Column] = [
    ("Containers", "string", _containers, 1),
    ("Images", "string", _images, 1),
]

COLUMNS: dict[str, list[Column]] = {
    "Namespace": [_NAME, ("Status", "string", _field("status", "phase"), 0), _AGE],
    "ConfigMap": [_NAME, ("Data", "integer", _count("data"), 0), _AGE],
    "Secret": [
        _NAME,
        ("Type", "string", _field("type"), 0),
        ("Data", "integer", _count("data"), 0),
        _AGE,
    ],
    "ServiceAccount": [_NAME, ("Secrets", "integer", _count("secrets"), 0), _AGE],
    "Service": [
        _NAME,
        ("Type", "string", _field("spec", "type"), 0),
        ("Cluster-IP", "string", _field("spec", "clusterIP"), 0),
        ("External-IP", "string", lambda o: "<none>", 0),
        ("Port(s)", "string", _ports, 0),
        _AGE,
        ("Selector", "string", _labels("spec", "selector"), 1),
    ],
    "Pod": [
        _NAME,
        ("Ready", "string", _pod_ready, 0),
        ("Status", "string", _field("status", "phase", default="Pending"), 0),
        ("Restarts", "string", lambda o: "0", 0),
        _AGE,
    ],
    "PersistentVolumeClaim": [
        _NAME,
        ("Status", "string", _field("status", "phase", default="Pending"), 0),
        ("Volume", "string", _field("spec", "volumeName"), 0),
        _AGE,
    ],
    "Deployment": [
        _NAME,
        ("Ready", "string", _READY, 0),
        ("Up-to-date", "integer", _field("status", "updatedReplicas", default=0), 0),
        ("Available", "integer", _field("status", "availableReplicas", default=0), 0),
        _AGE,
        *_WORKLOAD_WIDE,
        ("Selector", "string", _labels("spec", "selector", "matchLabels"), 1),
    ],
    "StatefulSet": [_NAME, ("Ready", "string", _READY, 0), _AGE, *_WORKLOAD_WIDE],
    "ReplicaSet": [
        _NAME,
        ("Desired", "integer", _field("spec", "replicas", default=0), 0),
        ("Current", "integer", _field("status", "replicas", default=0), 0),
        ("Ready", "integer", _field("status", "readyReplicas", default=0), 0),
        _AGE,
    ],
    "DaemonSet": [
        _NAME,
        ("Desired", "integer", _field("status", "desiredNumberScheduled", default=0), 0),
        ("Current", "integer", _field("status", "currentNumberScheduled", default=0), 0),
        ("Ready", "integer", _field("status", "numberReady", default=0), 0),
        ("Up-to-date", "integer", _field("status", "updatedNumberScheduled", default=0), 0),
        ("Available", "integer", _field("status", "numberAvailable", default=0), 0),
        ("Node Selector", "string", _labels("spec", "template", "spec", "nodeSelector"), 0),
        _AGE,
    ],
    "Job": [
        _NAME,
        ("Status", "string", _job_status, 0),
        ("Completions", "string", _ratio(("status", "succeeded"), ("spec", "completions"), 1), 0),
        _AGE,
    ],
    "Ingress": [
        _NAME,
        ("Class", "string", _field("spec", "ingressClassName", default="<none>"), 0),
        ("Hosts", "string", _hosts, 0),
        ("Address", "string", lambda o: "", 0),
        ("Ports", "string", lambda o: "80", 0),
        _AGE,
    ],
    "RoleBinding": [_NAME, ("Role", "string", _role_ref, 0), _AGE],
    "ClusterRoleBinding": [_NAME, ("Role", "string", _role_ref, 0), _AGE],
    "Lease": [_NAME, ("Holder", "string", _field("spec", "holderIdentity"), 0), _AGE],
}


_FILTER = re.compile(r"""\[\?\(@\.([\w.-]+)\s*==\s*["']([^"']*)["']\)\]""")


def json_path(obj: Any, path: str) -> Any:
    """The value at a CRD printer column's JSONPath (dotted fields, [N], [?(@.k=="v")])."""
    node = obj
    for part in re.findall(r"[^.\[\]]+(?:\[[^\]]*\])*|\[[^\]]*\]", path.strip("{}")):
        name, _, rest = part.partition("[")
        if name:
            if not isinstance(node, dict):
                return None
            node = node.get(name)
        for selector in re.findall(r"\[[^\]]*\]", "[" + rest if rest else ""):
            match = _FILTER.fullmatch(selector)
            if match and isinstance(node, list):
                key, value = match.groups()
                node = next((i for i in node if str(json_path(i, "." + key)) == value), None)
            elif selector[1:-1].lstrip("-").isdigit() and isinstance(node, list):
                index = int(selector[1:-1])
                node = node[index] if -len(node) <= index < len(node) else None
            else:
                return None
    return node


def _printer_cell(kind: str, path: str) -> Cell:
    def cell(obj: JSON) -> Any:
        value = json_path(obj, path)
        if kind == "date" and isinstance(value, str):
            try:
                created = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            except ValueError:
                return value
            return human_duration((datetime.now(UTC) - created).total_seconds())
        return value

    return cell


def _columns(rt: ResourceType) -> list[Column]:
    if rt.builtin:
        return COLUMNS.get(rt.kind, [_NAME, _AGE])
    if not rt.printer_columns:
        return [_NAME, _AGE]
    return [_NAME] + [
        (name, "string" if kind == "date" else kind, _printer_cell(kind, path), priority)
        for name, kind, path, priority in rt.printer_columns
    ]


def _definitions(columns: list[Column]) -> list[JSON]:
    return [
        {
            "name": name,
            "type": type_,
            "format": "name" if cell is _name else "",
            "description": "",
            "priority": priority,
        }
        for name, type_, cell, priority in columns
    ]


def _row(rt: ResourceType, obj: JSON, columns: list[Column], include: str) -> JSON:
    row: JSON = {"cells": [cell(obj) for _, _, cell, _ in columns]}
    if include == "Object":
        row["object"] = obj
    elif include != "None":
        m = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
        row["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": m,
        }
    return row


def table(
    rt: ResourceType, objs: list[JSON], list_meta: JSON, include: str, *, definitions: bool = True
) -> JSON:
    columns = _columns(rt)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": _definitions(columns) if definitions else [],
        "rows": [_row(rt, obj, columns, include) for obj in objs],
    }
