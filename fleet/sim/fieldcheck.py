"""Unknown fields of built-in kinds, handled as kube-apiserver 1.36 handles them.

A real server decodes a built-in object into its Go type, so a field the type does not declare
never reaches storage. What the client hears depends on the request (checked against
kube-apiserver v1.36.3):

- create, update, patch: `fieldValidation=Strict` (kubectl's default) is a 400 naming every
  unknown field (`strict decoding error: unknown field "spec.bogus"`; a 422 on the `patch`
  field for patches); `Warn` (the default) drops them with a `Warning` header each; `Ignore`
  drops them silently.
- server-side apply: whatever `fieldValidation` says, an unknown field (in `metadata` too) is a
  500 `failed to create typed patch object (...): .spec.bogus: field not declared in schema`.

The declared fields come from the captured OpenAPI v3 documents (`fleet.sim.openapi`): each
built-in kind's schema compiled once per process into a tree of field names. Values are not
type-checked; lists and maps are walked so nested unknown fields are found.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from fleet.sim.errors import ApiError, invalid
from fleet.sim.kinds import ResourceType
from fleet.sim.openapi import captured_v3

JSON = dict[str, Any]
Segment = str | tuple[int, Any]  # a field name, or (index, item) in a list
Path = tuple[Segment, ...]


class _Node:
    """Declared fields below one schema: properties, map values, list items, or anything."""

    __slots__ = ("extra", "items", "open", "props")

    def __init__(self) -> None:
        self.props: dict[str, _Node] | None = None
        self.extra: _Node | None = None
        self.items: _Node | None = None
        self.open = False


_ANY = _Node()
_ANY.open = True


class _Compiler:
    def __init__(self, schemas: Mapping[str, Any]) -> None:
        self.schemas = schemas
        self.named: dict[str, _Node] = {}

    def ref(self, ref: str) -> _Node:
        name = ref.rsplit("/", 1)[-1]
        node = self.named.get(name)
        if node is None:
            node = self.named[name] = _Node()  # registered first: schemas are recursive
            self.fill(node, self.schemas.get(name) or {})
        return node

    def compile(self, schema: Mapping[str, Any]) -> _Node:
        if "$ref" in schema:
            return self.ref(str(schema["$ref"]))
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and "$ref" in all_of[0]:
            return self.ref(str(all_of[0]["$ref"]))
        node = _Node()
        self.fill(node, schema)
        return node

    def fill(self, node: _Node, schema: Mapping[str, Any]) -> None:
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        items = schema.get("items")
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            node.open = True
        elif isinstance(properties, Mapping) or isinstance(extra, Mapping):
            if isinstance(properties, Mapping):
                node.props = {k: self.compile(v) for k, v in properties.items()}
            if isinstance(extra, Mapping):
                node.extra = self.compile(extra)
        elif isinstance(items, Mapping):
            node.items = self.compile(items)
        else:
            node.open = True  # scalars, RawExtension, FieldsV1, JSON: nothing to check below


@functools.cache
def _kinds(doc_path: str) -> dict[str, _Node]:
    """kind -> compiled schema, for the built-in kinds of one OpenAPI v3 document."""
    try:
        doc = captured_v3(doc_path)
    except KeyError:
        return {}
    schemas = doc.get("components", {}).get("schemas", {})
    compiler = _Compiler(schemas)
    group_version = doc_path.split("/", 1)[1] if doc_path.startswith("apis/") else "v1"
    group, _, version = group_version.rpartition("/")
    out: dict[str, _Node] = {}
    for name, schema in schemas.items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or ():
            if gvk.get("group") == group and gvk.get("version") == version:
                out[str(gvk.get("kind"))] = compiler.ref(name)
    return out


def _schema_of(rt: ResourceType) -> _Node | None:
    doc_path = f"apis/{rt.group}/{rt.version}" if rt.group else "api/v1"
    return _kinds(doc_path).get(rt.kind)


def unknown_fields(rt: ResourceType, obj: Mapping[str, Any]) -> list[Path]:
    """Paths of the fields in `obj` that `rt`'s schema does not declare."""
    node = _schema_of(rt)
    if node is None:
        return []
    found: list[Path] = []
    _walk(obj, node, (), found)
    return found


#: Values nested deeper than this are not checked (a client chose the depth; the recursion
#: must stay within Python's stack). No built-in kind's fields nest that deep but a CRD's
#: `openAPIV3Schema`, whose deeper levels are then kept as sent.
_MAX_DEPTH = 100


def _walk(value: Any, node: _Node, path: Path, found: list[Path]) -> None:
    if node.open or len(path) > _MAX_DEPTH:
        return
    if isinstance(value, dict):
        for key, child in value.items():
            declared = node.props.get(key) if node.props is not None else None
            if declared is None:
                declared = node.extra
            if declared is None:
                found.append((*path, key))
            else:
                _walk(child, declared, (*path, key), found)
    elif isinstance(value, list) and node.items is not None:
        for index, item in enumerate(value):
            _walk(item, node.items, (*path, (index, item)), found)


def _prune(value: Any, path: Path) -> Any:
    """`value` without the field at `path` (copied along the path only)."""
    head, rest = path[0], path[1:]
    if isinstance(head, tuple):
        index = head[0]
        out_list = list(value)
        out_list[index] = _prune(value[index], rest) if rest else value[index]
        return out_list
    out = dict(value)
    if rest:
        out[head] = _prune(value[head], rest)
    else:
        out.pop(head, None)
    return out


def _decoder_path(path: Path) -> str:
    """`spec.template.spec.containers[0].nope`, as the strict JSON decoder names fields."""
    out = ""
    for segment in path:
        if isinstance(segment, tuple):
            out += f"[{segment[0]}]"
        else:
            out += f".{segment}" if out else segment
    return out


def _typed_path(rt: ResourceType, path: Path) -> str:
    """`.spec.template.spec.containers[name="c"].nope`, as structured-merge-diff names fields."""
    out = ""
    names: list[str] = []
    for segment in path:
        if isinstance(segment, tuple):
            index, item = segment
            list_type = rt.schema.list_type(tuple(names))
            if list_type.kind == "map" and isinstance(item, dict):
                keys = ",".join(
                    f"{k}={json.dumps(item.get(k, dict(list_type.key_defaults).get(k)))}"
                    for k in list_type.keys
                )
                out += f"[{keys}]"
            elif list_type.kind == "set":
                out += f"[={json.dumps(item)}]"
            else:
                out += f"[{index}]"
        else:
            names.append(segment)
            out += f".{segment}"
    return out


def admit(
    rt: ResourceType,
    obj: JSON,
    *,
    strict: bool,
    warnings: list[str] | None,
    patch: bool = False,
) -> JSON:
    """`obj` without its unknown fields (warned), or the error a strict request gets."""
    unknown = unknown_fields(rt, obj)
    if not unknown:
        return obj
    named = [f'unknown field "{_decoder_path(p)}"' for p in unknown]
    if strict and patch:
        message = f"strict decoding error: {', '.join(named)}"
        raise invalid("", "", "", [("patch", "FieldValueInvalid", message)])
    if strict:
        raise ApiError(
            400,
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
            f"strict decoding error: {', '.join(named)}",
        )
    if warnings is not None:
        warnings.extend(named)
    for path in reversed(unknown):
        obj = _prune(obj, path)
    return obj


def admit_apply(rt: ResourceType, obj: JSON, *, name: str, namespace: str, strict: bool) -> JSON:
    """An apply configuration, or the 500 a real server answers when it declares a field the
    kind does not have (`metadata` included; `namespace` is the one in the body, as the real
    message shows it). Without Strict, an unknown `metadata` field is reported only when
    nothing else is (as observed)."""
    unknown = unknown_fields(rt, obj)
    if not unknown:
        return obj
    reported = unknown if strict else [p for p in unknown if p[0] != "metadata"] or unknown
    lines = [f"{_typed_path(rt, p)}: field not declared in schema" for p in reported]
    detail = lines[0] if len(lines) == 1 else "errors:\n  " + "\n  ".join(lines)
    raise ApiError(
        500,
        f"failed to create typed patch object ({namespace}/{name}; {rt.group}/{rt.version}, "
        f"Kind={rt.kind}): {detail}",
        reason="",
    )
