"""Server-side apply and managedFields bookkeeping for every write.

Follows structured-merge-diff as the API server uses it: an Apply replaces its manager's field
set with the applied configuration's fields, merges the configuration into the live object,
prunes fields it applied before and no longer applies (unless another manager owns them), and
fails with 409 when a changed field is owned by another manager unless `force` takes it over.
Every other write is an Update: the writer gains the fields it added or changed, and the other
managers lose them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fleet.sim.errors import ApiError
from fleet.sim.jsonutil import clone
from fleet.sim.kinds import FieldSchema
from fleet.sim.managedfields import (
    FieldSet,
    Path,
    compare,
    decode,
    encode,
    item_element,
    leaf_fields,
    path_string,
    strip,
)

JSON = dict[str, Any]


@dataclass(slots=True)
class Manager:
    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str
    fields: FieldSet

    @property
    def key(self) -> tuple[str, str, str, str]:
        # appliers are identified without apiVersion, updaters with it (as in the API server)
        version = "" if self.operation == "Apply" else self.api_version
        return (self.manager, self.operation, version, self.subresource)

    def describe(self) -> str:
        text = json.dumps(self.manager)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text

    def entry(self) -> JSON:
        out: JSON = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": encode(self.fields),
        }
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def read_managers(obj: Mapping[str, Any] | None) -> list[Manager]:
    entries = ((obj or {}).get("metadata") or {}).get("managedFields") or []
    out = []
    for e in entries:
        if not isinstance(e, Mapping) or (not e.get("manager") and not e.get("fieldsV1")):
            continue
        out.append(
            Manager(
                manager=str(e.get("manager", "")),
                operation=str(e.get("operation", "Update")),
                api_version=str(e.get("apiVersion", "")),
                subresource=str(e.get("subresource", "")),
                time=str(e.get("time", "")),
                fields=decode(e.get("fieldsV1")),
            )
        )
    return out


def write_managers(obj: JSON, managers: list[Manager]) -> None:
    """Store the entries sorted as the API server sorts them (Apply first, then by time)."""
    live = [m for m in managers if m.fields]
    live.sort(key=lambda m: (m.operation, m.time, m.manager, m.api_version, m.subresource))
    meta = obj.setdefault("metadata", {})
    if live:
        meta["managedFields"] = [m.entry() for m in live]
    else:
        meta.pop("managedFields", None)


def _find(managers: list[Manager], key: tuple[str, str, str, str]) -> Manager | None:
    return next((m for m in managers if m.key == key), None)


def track_update(
    old: Mapping[str, Any] | None,
    new: JSON,
    *,
    manager: str,
    api_version: str,
    subresource: str,
    has_status: bool,
    schema: FieldSchema,
    now: str,
) -> None:
    """Record in `new` that `manager` made the change from `old` with an Update."""
    managers = read_managers(old)
    cmp = compare(_body(old or {}), _body(new), schema)
    changed = strip(cmp.changed, subresource=subresource, has_status=has_status)
    removed = cmp.removed
    me = Manager(manager, "Update", api_version, subresource, now, set())
    own = _find(managers, me.key)
    if own is None:
        own = me
        managers.append(own)
    for m in managers:
        if m is not own:
            m.fields -= changed
            m.fields -= removed
    before = set(own.fields)
    own.fields = (own.fields | changed) - removed
    if own.fields != before:
        own.time = now
    write_managers(new, managers)


def _body(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The object without managedFields, which never take part in comparisons."""
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping) or "managedFields" not in meta:
        return obj
    out = dict(obj)
    out["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return out


def merge(lhs: Any, rhs: Any, schema: FieldSchema, fpath: tuple[str, ...] = ()) -> Any:
    """Merge an applied configuration (rhs) into the live object (lhs)."""
    if isinstance(lhs, dict) and isinstance(rhs, dict) and not (fpath and schema.atomic_map(fpath)):
        return _merge_maps(lhs, rhs, schema, fpath)
    if isinstance(lhs, list) and isinstance(rhs, list):
        list_type = schema.list_type(fpath)
        if list_type.kind == "set":
            return lhs + [clone(x) for x in rhs if x not in lhs]
        if list_type.kind == "map":
            incoming = {item_element(x, list_type): x for x in rhs}
            existing = {item_element(x, list_type) for x in lhs}
            out = []
            for item in lhs:
                element = item_element(item, list_type)
                if element in incoming and isinstance(item, dict):
                    out.append(_merge_maps(item, incoming[element], schema, fpath))
                else:
                    out.append(item)
            out.extend(clone(x) for x in rhs if item_element(x, list_type) not in existing)
            return out
    return clone(rhs) if isinstance(rhs, dict | list) else rhs


def _merge_maps(
    lhs: Mapping[str, Any], rhs: Mapping[str, Any], schema: FieldSchema, fpath: tuple[str, ...]
) -> JSON:
    out = dict(lhs)
    for key, value in rhs.items():
        if value is None:
            out.pop(key, None)
        elif key in out:
            out[key] = merge(out[key], value, schema, (*fpath, key))
        else:
            out[key] = clone(value)
    return out


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def remove_path(obj: Any, path: Path, schema: FieldSchema) -> None:
    """Remove the field or list item at `path` (no-op when it is not there)."""
    node = obj
    fpath: tuple[str, ...] = ()
    for i, element in enumerate(path):
        last = i == len(path) - 1
        if element.startswith("f:"):
            name = element[2:]
            if not isinstance(node, dict) or name not in node:
                return
            if last:
                del node[name]
                return
            node = node[name]
            fpath = (*fpath, name)
        else:
            if not isinstance(node, list):
                return
            list_type = schema.list_type(fpath)
            index = next(
                (j for j, x in enumerate(node) if item_element(x, list_type) == element), None
            )
            if index is None:
                return
            if last:
                node.pop(index)
                return
            node = node[index]


def _owned_below(path: Path, fields: FieldSet) -> bool:
    n = len(path)
    return any(len(p) > n and p[:n] == path for p in fields)


def apply(
    live: Mapping[str, Any] | None,
    config: Mapping[str, Any],
    *,
    manager: str,
    api_version: str,
    subresource: str,
    has_status: bool,
    force: bool,
    schema: FieldSchema,
    now: str,
) -> JSON:
    """The object after `manager` applies `config` to `live` (None: create), managedFields set.

    `config` must already be limited to what the endpoint accepts (no status on a main
    resource with a status subresource, only status on /status).
    """
    config = _drop_nulls(config)
    base: JSON = clone(dict(live)) if live is not None else {}
    managers = read_managers(live)
    me = Manager(manager, "Apply", api_version, subresource, now, set())
    applied = strip(leaf_fields(config, schema), subresource=subresource, has_status=has_status)
    own = _find(managers, me.key)
    previous = own.fields if own else set()
    others: FieldSet = set()
    for m in managers:
        if m is not own:
            others |= m.fields
    merged: JSON = merge(base, config, schema)
    # A map this manager owned as a member (the `.` entries an Update set carries, e.g. after
    # kubectl's client-side-apply upgrade copies one into its Apply set) stays while any of
    # its fields is still owned, by this apply or another manager (structured-merge-diff adds
    # owned items back after pruning).
    for path in sorted(previous - applied - others, key=len, reverse=True):
        if not _owned_below(path, others | applied):
            remove_path(merged, path, schema)
    cmp = compare(_body(base), _body(merged), schema)
    changed = strip(cmp.changed, subresource=subresource, has_status=has_status)
    conflicts = [(m, sorted(m.fields & changed)) for m in managers if m is not own]
    conflicts = [(m, paths) for m, paths in conflicts if paths]
    if conflicts and not force:
        raise conflict_error(conflicts)
    for m, paths in conflicts:
        m.fields -= set(paths)
    for m in managers:
        if m is not own:
            m.fields -= cmp.removed
    if own is None:
        own = me
        managers.append(own)
    if own.fields != applied or changed or cmp.removed:
        own.time = now
    own.fields = applied
    own.api_version = api_version
    write_managers(merged, managers)
    return merged


def conflict_error(conflicts: list[tuple[Manager, list[Path]]]) -> ApiError:
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {m.describe()}",
            "field": path_string(p),
        }
        for m, paths in conflicts
        for p in paths
    ]
    total = len(causes)
    if total == 1:
        m, paths = conflicts[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {m.describe()}: {path_string(paths[0])}"
        )
    else:
        lines = []
        for m, paths in sorted(conflicts, key=lambda c: c[0].describe()):
            lines.append(f"conflicts with {m.describe()}:")
            lines.extend(f"- {path_string(p)}" for p in paths)
        message = f"Apply failed with {total} conflicts: " + "\n".join(lines)
    return ApiError(409, message, reason="Conflict", details={"causes": causes})
