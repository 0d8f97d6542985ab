"""The three PATCH flavours: JSON merge patch, JSON patch and strategic merge patch.

Strategic merge patch follows the `patchMergeKey`/`patchStrategy` tags of the built-in Go
types via the kind's `FieldSchema` (keyed lists merge on their first key, `finalizers` merge
as a set, other lists are replaced) and honours the `$patch`, `$retainKeys`,
`$deleteFromPrimitiveList` and `$setElementOrder` directives that kubectl sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleet.sim.errors import ApiError, bad_request
from fleet.sim.jsonutil import clone
from fleet.sim.kinds import FieldSchema

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
APPLY_PATCH_CBOR = "application/apply-patch+cbor"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge, null deletes, everything else replaces."""
    if not isinstance(patch, Mapping):
        return clone(patch)
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _unprocessable(message: str) -> ApiError:
    return ApiError(422, message, reason="Invalid")


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _unprocessable(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, tokens: list[str]) -> Any:
    node = doc
    for token in tokens[:-1]:
        node = _child(node, token)
    return node


def _child(node: Any, token: str) -> Any:
    try:
        if isinstance(node, list):
            return node[int(token)]
        if isinstance(node, dict):
            return node[token]
    except (KeyError, IndexError, ValueError):
        pass
    raise _unprocessable(f"doc is missing path: {token!r}")


def _index(node: list[Any], token: str, *, insert: bool) -> int:
    if insert and token == "-":
        return len(node)
    try:
        index = int(token)
    except ValueError:
        raise _unprocessable(f"invalid array index {token!r}") from None
    if index < 0 or index > len(node) or (not insert and index == len(node)):
        raise _unprocessable(f"array index out of bounds: {index}")
    return index


def _add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, list):
        parent.insert(_index(parent, last, insert=True), value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise _unprocessable(f"cannot add to a scalar at {last!r}")
    return doc


def _remove(doc: Any, tokens: list[str]) -> Any:
    if not tokens:
        raise _unprocessable("cannot remove the whole document")
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, insert=False))
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    raise _unprocessable(f"Unable to remove nonexistent key: {last}: missing value")


def json_patch(doc: Any, operations: Any) -> Any:
    """RFC 6902 operations applied in order to a copy of `doc`."""
    if not isinstance(operations, list):
        raise bad_request("json patch must be a list of operations")
    out = clone(doc)
    for op in operations:
        if not isinstance(op, Mapping):
            raise bad_request("json patch operation must be an object")
        kind = op.get("op")
        tokens = _pointer(str(op.get("path", "")))
        if kind == "add":
            out = _add(out, tokens, clone(op.get("value")))
        elif kind == "remove":
            _remove(out, tokens)
        elif kind == "replace":
            _remove(out, tokens)
            out = _add(out, tokens, clone(op.get("value")))
        elif kind in ("move", "copy"):
            source = _pointer(str(op.get("from", "")))
            value = _child(_parent(out, source), source[-1]) if source else out
            if kind == "move":
                _remove(out, source)
            out = _add(out, tokens, clone(value))
        elif kind == "test":
            actual = _child(_parent(out, tokens), tokens[-1]) if tokens else out
            if actual != op.get("value"):
                raise _unprocessable("testing value failed")
        else:
            raise bad_request(f"Unexpected kind: {kind}")
    return out


_DELETE = object()


def strategic_merge_patch(target: Any, patch: Any, schema: FieldSchema) -> Any:
    result = _smp_map(target if isinstance(target, Mapping) else {}, patch, schema, ())
    return {} if result is _DELETE else result


def _smp_map(
    target: Mapping[str, Any], patch: Any, schema: FieldSchema, fpath: tuple[str, ...]
) -> Any:
    if not isinstance(patch, Mapping):
        return clone(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return {k: clone(v) for k, v in patch.items() if not k.startswith("$")}
    out = dict(target)
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            drop = value if isinstance(value, list) else []
            out[field] = [x for x in out.get(field) or [] if x not in drop]
            continue
        if value is None:
            out.pop(key, None)
            continue
        child_path = (*fpath, key)
        current = out.get(key)
        if isinstance(value, Mapping) and not schema.atomic_map(child_path):
            merged = _smp_map(
                current if isinstance(current, Mapping) else {}, value, schema, child_path
            )
            if merged is _DELETE:
                out.pop(key, None)
            else:
                out[key] = merged
        elif isinstance(value, list):
            out[key] = _smp_list(
                current if isinstance(current, list) else [], value, schema, child_path
            )
        else:
            out[key] = clone(value)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _smp_list(
    current: list[Any], patch: list[Any], schema: FieldSchema, fpath: tuple[str, ...]
) -> list[Any]:
    list_type = schema.list_type(fpath)
    if list_type.kind == "set":
        return current + [clone(x) for x in patch if x not in current]
    if list_type.kind != "map" or not list_type.keys:
        return [clone(x) for x in patch if not _is_directive(x)]
    key = list_type.keys[0]
    if any(isinstance(x, Mapping) and x.get("$patch") == "replace" for x in patch):
        return [clone(x) for x in patch if not _is_directive(x)]
    out = list(current)
    for item in patch:
        if not isinstance(item, Mapping):
            out.append(clone(item))
            continue
        index = next(
            (
                i
                for i, x in enumerate(out)
                if isinstance(x, Mapping) and x.get(key) == item.get(key)
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                out.pop(index)
            continue
        if index is None:
            merged = _smp_map({}, item, schema, fpath)
            if merged is not _DELETE:
                out.append(merged)
        else:
            merged = _smp_map(out[index], item, schema, fpath)
            if merged is _DELETE:
                out.pop(index)
            else:
                out[index] = merged
    return out


def _is_directive(item: Any) -> bool:
    return isinstance(item, Mapping) and "$patch" in item
