"""Field sets in the structured-merge-diff model and their `fieldsV1` wire encoding.

A field set is a Python `set` of paths; a path is a tuple of encoded path elements exactly as
they appear in `fieldsV1` (`f:spec`, `k:{"name":"app"}`, `v:"finalizer"`), so decoding and
encoding managedFields is a tree walk and set algebra is plain `set` operations.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from fleet.sim.kinds import FieldSchema, ListType

Path = tuple[str, ...]
FieldSet = set[Path]

#: paths never owned by anyone (structured-merge-diff's "strip meta" list in the API server)
STRIPPED: frozenset[Path] = frozenset(
    {
        ("f:apiVersion",),
        ("f:kind",),
        ("f:metadata",),
        ("f:metadata", "f:name"),
        ("f:metadata", "f:namespace"),
        ("f:metadata", "f:creationTimestamp"),
        ("f:metadata", "f:selfLink"),
        ("f:metadata", "f:uid"),
        ("f:metadata", "f:generation"),
        ("f:metadata", "f:managedFields"),
        ("f:metadata", "f:resourceVersion"),
    }
)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def item_element(item: Any, list_type: ListType) -> str:
    """The path element of a list item: `k:{...}` for keyed lists, `v:...` for sets."""
    if list_type.kind == "map" and isinstance(item, dict):
        key = {k: item[k] for k in list_type.keys if k in item}
        for name, default in list_type.key_defaults:
            if name not in key:
                key[name] = default
        return "k:" + _compact({k: key[k] for k in list_type.keys if k in key})
    return "v:" + _compact(item)


def leaf_fields(value: Any, schema: FieldSchema) -> FieldSet:
    """The fields an applied configuration sets: scalars, atomic values and list items.

    This is structured-merge-diff's ToFieldSet: maps are not members themselves (except empty
    or atomic ones), so two appliers can share a map and own different keys of it.
    """
    out: FieldSet = set()
    if isinstance(value, dict):
        for key, child in value.items():
            _leaves(child, schema, (key,), ("f:" + key,), out)
    return out


def _leaves(value: Any, schema: FieldSchema, fpath: Path, path: Path, out: FieldSet) -> None:
    if isinstance(value, dict):
        if not value or schema.atomic_map(fpath):
            out.add(path)
            return
        for key, child in value.items():
            _leaves(child, schema, (*fpath, key), (*path, "f:" + key), out)
    elif isinstance(value, list):
        list_type = schema.list_type(fpath)
        if list_type.kind == "atomic" or not value:
            out.add(path)
            return
        for item in value:
            item_path = (*path, item_element(item, list_type))
            out.add(item_path)
            if list_type.kind == "map" and isinstance(item, dict):
                for key, child in item.items():
                    _leaves(child, schema, (*fpath, key), (*item_path, "f:" + key), out)
    else:
        out.add(path)


def _all_nodes(value: Any, schema: FieldSchema, fpath: Path, path: Path, out: FieldSet) -> None:
    """`path` and every node below it (how a newly added subtree shows in a comparison)."""
    out.add(path)
    if isinstance(value, dict):
        if schema.atomic_map(fpath):
            return
        for key, child in value.items():
            _all_nodes(child, schema, (*fpath, key), (*path, "f:" + key), out)
    elif isinstance(value, list):
        list_type = schema.list_type(fpath)
        if list_type.kind == "atomic":
            return
        for item in value:
            item_path = (*path, item_element(item, list_type))
            out.add(item_path)
            if list_type.kind == "map" and isinstance(item, dict):
                for key, child in item.items():
                    _all_nodes(child, schema, (*fpath, key), (*item_path, "f:" + key), out)


class Comparison:
    """Paths added, modified and removed between two versions of an object."""

    __slots__ = ("added", "modified", "removed")

    def __init__(self) -> None:
        self.added: FieldSet = set()
        self.modified: FieldSet = set()
        self.removed: FieldSet = set()

    @property
    def changed(self) -> FieldSet:
        return self.added | self.modified


def compare(old: Mapping[str, Any], new: Mapping[str, Any], schema: FieldSchema) -> Comparison:
    result = Comparison()
    _compare_maps(old, new, schema, (), (), result)
    return result


def _compare_maps(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    schema: FieldSchema,
    fpath: Path,
    path: Path,
    result: Comparison,
) -> None:
    for key, new_child in new.items():
        child_path = (*path, "f:" + key)
        if key not in old:
            _all_nodes(new_child, schema, (*fpath, key), child_path, result.added)
        else:
            _compare(old[key], new_child, schema, (*fpath, key), child_path, result)
    for key, old_child in old.items():
        if key not in new:
            _all_nodes(old_child, schema, (*fpath, key), (*path, "f:" + key), result.removed)


def _compare(
    old: Any, new: Any, schema: FieldSchema, fpath: Path, path: Path, result: Comparison
) -> None:
    if isinstance(old, dict) and isinstance(new, dict) and not schema.atomic_map(fpath):
        _compare_maps(old, new, schema, fpath, path, result)
        return
    if isinstance(old, list) and isinstance(new, list):
        list_type = schema.list_type(fpath)
        if list_type.kind != "atomic":
            old_items = {item_element(i, list_type): i for i in old}
            new_items = {item_element(i, list_type): i for i in new}
            for element, item in new_items.items():
                item_path = (*path, element)
                if element not in old_items:
                    if list_type.kind == "map" and isinstance(item, dict):
                        result.added.add(item_path)
                        for key, child in item.items():
                            _all_nodes(
                                child, schema, (*fpath, key), (*item_path, "f:" + key), result.added
                            )
                    else:
                        result.added.add(item_path)
                elif list_type.kind == "map":
                    before = old_items[element]
                    if isinstance(before, dict) and isinstance(item, dict):
                        _compare_maps(before, item, schema, fpath, item_path, result)
            for element, item in old_items.items():
                if element not in new_items:
                    result.removed.add((*path, element))
                    if list_type.kind == "map" and isinstance(item, dict):
                        for key, child in item.items():
                            _all_nodes(
                                child,
                                schema,
                                (*fpath, key),
                                (*path, element, "f:" + key),
                                result.removed,
                            )
            return
    if old != new:
        result.modified.add(path)


def decode(fields_v1: Mapping[str, Any] | None) -> FieldSet:
    out: FieldSet = set()
    if fields_v1:
        _decode(fields_v1, (), out)
    return out


def _decode(node: Mapping[str, Any], path: Path, out: FieldSet) -> None:
    for key, child in node.items():
        if key == ".":
            out.add(path)
            continue
        child_path = (*path, key)
        if not child:
            out.add(child_path)
        else:
            _decode(child, child_path, out)


def encode(fields: Iterable[Path]) -> dict[str, Any]:
    """fieldsV1 JSON: members with children get a `.` entry, members without are `{}`; keys
    in the API server's order, `.` first and then sorted.

    Built from the paths in sorted order, so each node's keys arrive sorted and need no second
    pass: a member sorts before every path below it, so its `.` goes in first, and comes out
    again when nothing followed it. Every write encodes each manager's set, and the separate
    sort pass was two thirds of the encoding."""
    root: dict[str, Any] = {}
    members: list[dict[str, Any]] = []
    for path in sorted(fields):
        node = root
        for element in path:
            child = node.get(element)
            if child is None:
                child = node[element] = {}
            node = child
        node["."] = {}
        members.append(node)
    for node in members:
        if len(node) == 1:
            del node["."]
    return root


def path_string(path: Path) -> str:
    """`.spec.containers[name="app"].image`: how the API server names a field in conflicts."""
    parts: list[str] = []
    for element in path:
        tag, rest = element[:2], element[2:]
        if tag == "f:":
            parts.append("." + rest)
        elif tag == "k:":
            keys = json.loads(rest)
            parts.append("[" + ",".join(f"{k}={_compact(v)}" for k, v in keys.items()) + "]")
        elif tag == "v:":
            parts.append("[=" + rest + "]")
        else:
            parts.append("[" + rest + "]")
    return "".join(parts)


def strip(fields: FieldSet, *, subresource: str, has_status: bool) -> FieldSet:
    """Drop fields nobody owns and fields the endpoint resets.

    The main resource of a kind with a status subresource ignores `status`; the status
    subresource only keeps `status` (like the API server's ResetFieldsStrategy).
    """
    out = {p for p in fields if p not in STRIPPED}
    if subresource == "status":
        return {p for p in out if p[0] == "f:status"}
    if has_status:
        return {p for p in out if p[0] != "f:status"}
    return out
