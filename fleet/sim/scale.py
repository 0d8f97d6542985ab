"""The `scale` subresource (autoscaling/v1 Scale) of Deployments, StatefulSets, ReplicaSets
and CRDs that declare one: `kubectl scale` and autoscalers read and write replicas through it.
"""

from __future__ import annotations

from typing import Any

from fleet.sim import errors, patch
from fleet.sim.api import ClusterAPI, Result, WriteOptions, decode_body
from fleet.sim.jsonutil import clone
from fleet.sim.kinds import ResourceType
from fleet.sim.store import meta

JSON = dict[str, Any]


def _path(path: str) -> list[str]:
    return [p for p in path.split(".") if p]


def get_path(obj: Any, path: str) -> Any:
    node = obj
    for key in _path(path):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def set_path(obj: JSON, path: str, value: Any) -> None:
    keys = _path(path)
    node = obj
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value


def scale_of(rt: ResourceType, obj: JSON) -> JSON:
    """The autoscaling/v1 Scale view of an object."""
    assert rt.scale is not None
    spec_path, status_path, selector_path = rt.scale
    m = meta(obj)
    if rt.builtin:
        labels = get_path(obj, ".spec.selector.matchLabels") or {}
        selector = ",".join(f"{k}={v}" for k, v in labels.items())
    else:
        selector = str(get_path(obj, selector_path) or "") if selector_path else ""
    keys = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
    status: JSON = {"replicas": get_path(obj, status_path) or 0}
    if selector:
        status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: m[k] for k in keys if k in m},
        "spec": {"replicas": get_path(obj, spec_path) or 0},
        "status": status,
    }


def get_scale(api: ClusterAPI, rt: ResourceType, namespace: str, name: str) -> JSON:
    return scale_of(rt, api.existing(rt, namespace, name))


def write_scale(
    api: ClusterAPI,
    rt: ResourceType,
    namespace: str,
    name: str,
    content_type: str,
    raw: bytes,
    opts: WriteOptions,
    *,
    is_patch: bool,
) -> Result:
    """PUT or PATCH of the `scale` subresource: only the replica count changes."""
    assert rt.scale is not None
    old = api.existing(rt, namespace, name)
    doc = decode_body(raw, yaml_ok="yaml" in content_type)
    if not is_patch:
        scale = doc
    elif content_type == patch.JSON_PATCH:
        scale = patch.json_patch(scale_of(rt, old), doc)
    else:
        scale = patch.merge_patch(scale_of(rt, old), doc)
    replicas = get_path(scale, ".spec.replicas") if isinstance(scale, dict) else None
    if not isinstance(replicas, int) or replicas < 0:
        message = f"Invalid value: {replicas}: must be greater than or equal to 0"
        cause = ("spec.replicas", "FieldValueInvalid", message)
        raise errors.invalid("Scale", "autoscaling", name, [cause])
    expected = meta(scale).get("resourceVersion")
    if expected and expected != meta(old).get("resourceVersion"):
        raise errors.conflict(rt.resource, rt.group, name, errors.STALE)
    new = clone(old)
    set_path(new, rt.scale[0], replicas)
    opts = WriteOptions(manager=opts.manager, dry_run=opts.dry_run, subresource="scale")
    return 200, scale_of(rt, api.write_update(rt, old, new, opts))
