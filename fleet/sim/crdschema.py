"""Structural-schema handling of custom resources: pruning, type checks, required fields.

The API server drops fields a CRD's `openAPIV3Schema` does not declare (unless
`x-kubernetes-preserve-unknown-fields`), rejects them instead when the client asks for
`fieldValidation=Strict` (kubectl does), and answers 422 for values of the wrong type. A
GitOps controller's drift detection depends on that pruning, so the simulator does the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fleet.sim import errors, fieldcheck
from fleet.sim.errors import ApiError
from fleet.sim.kinds import ResourceType

JSON = dict[str, Any]
_ROOT_KEYS = frozenset({"apiVersion", "kind", "metadata"})
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


class _Result:
    __slots__ = ("invalid", "unknown")

    def __init__(self) -> None:
        self.unknown: list[str] = []
        self.invalid: list[tuple[str, str, str]] = []


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"


def _type_ok(value: Any, schema: Mapping[str, Any]) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, int | str) and not isinstance(value, bool)
    expected = schema.get("type")
    if not expected:
        return True
    allowed = _TYPES.get(str(expected), ())
    if isinstance(value, bool) and expected in ("integer", "number"):
        return False
    return isinstance(value, allowed)


def _walk(value: Any, schema: Mapping[str, Any], path: str, result: _Result) -> Any:
    """`value` with undeclared fields removed; problems are collected in `result`."""
    if not _type_ok(value, schema):
        shown, expected = json.dumps(_type_name(value)), schema.get("type")
        result.invalid.append(
            (
                path,
                "FieldValueTypeInvalid",
                f"Invalid value: {shown}: {path} in body must be of type {expected}: {shown}",
            )
        )
        return value
    enum = schema.get("enum")
    if enum is not None and value not in enum:
        supported = ", ".join(json.dumps(v) for v in enum)
        result.invalid.append(
            (
                path,
                "FieldValueNotSupported",
                f"Unsupported value: {json.dumps(value)}: supported values: {supported}",
            )
        )
    if isinstance(value, dict):
        return _walk_object(value, schema, path, result)
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            return [_walk(v, items, f"{path}[{i}]", result) for i, v in enumerate(value)]
    return value


def _walk_object(value: JSON, schema: Mapping[str, Any], path: str, result: _Result) -> JSON:
    properties = schema.get("properties")
    extra = schema.get("additionalProperties")
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    embedded = bool(schema.get("x-kubernetes-embedded-resource"))
    out: JSON = {}
    for key, child in value.items():
        child_path = f"{path}.{key}" if path else key
        if child is None and not (
            isinstance(properties, Mapping) and (properties.get(key) or {}).get("nullable")
        ):
            continue  # nulls of non-nullable fields are pruned
        if isinstance(properties, Mapping) and key in properties:
            out[key] = _walk(child, properties[key], child_path, result)
        elif isinstance(extra, Mapping):
            out[key] = _walk(child, extra, child_path, result)
        elif extra is True or preserve or (embedded and key in _ROOT_KEYS):
            out[key] = child
        else:
            result.unknown.append(child_path)
    return out


def admit(
    rt: ResourceType,
    obj: JSON,
    *,
    strict: bool,
    warnings: list[str] | None = None,
    patch: bool = False,
) -> JSON:
    """The object as the API server would store it: pruned, or rejected when invalid.

    Pruned fields are reported in `warnings` (the API server's `Warning` headers, which kubectl
    prints) unless `strict` turns them into a 400. Built-in kinds are checked against their
    captured OpenAPI schema (`fieldcheck`).
    """
    if rt.builtin:
        return fieldcheck.admit(rt, obj, strict=strict, warnings=warnings, patch=patch)
    schema = rt.openapi_schema
    if not schema:
        return obj
    result = _Result()
    body = {k: v for k, v in obj.items() if k not in _ROOT_KEYS}
    pruned = _walk(body, schema, "", result)
    name = str((obj.get("metadata") or {}).get("name", ""))
    if result.unknown and strict:
        unknown = ", ".join(f'unknown field "{p}"' for p in result.unknown)
        raise ApiError(
            400,
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
            f"strict decoding error: {unknown}",
        )
    if result.invalid:
        raise errors.invalid(rt.kind, rt.group, name, result.invalid)
    if warnings is not None:
        warnings.extend(f'unknown field "{p}"' for p in result.unknown)
    return {**{k: obj[k] for k in ("apiVersion", "kind", "metadata") if k in obj}, **pruned}


def check_required(rt: ResourceType, obj: JSON) -> None:
    """422 when a field the schema requires is missing from the object to be stored."""
    schema = rt.openapi_schema
    if rt.builtin or not schema:
        return
    missing: list[tuple[str, str, str]] = []
    _required(obj, schema, "", missing, root=True)
    if missing:
        name = str((obj.get("metadata") or {}).get("name", ""))
        raise errors.invalid(rt.kind, rt.group, name, missing)


def _required(
    value: Any,
    schema: Mapping[str, Any],
    path: str,
    missing: list[tuple[str, str, str]],
    *,
    root: bool = False,
) -> None:
    if isinstance(value, dict):
        for key in schema.get("required") or ():
            if key not in value:
                missing.append(
                    (f"{path}.{key}" if path else key, "FieldValueRequired", "Required value")
                )
        properties = schema.get("properties") or {}
        for key, child in value.items():
            if (root and key in _ROOT_KEYS) or key not in properties:
                continue
            _required(child, properties[key], f"{path}.{key}" if path else key, missing)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            _required(item, schema["items"], f"{path}[{i}]", missing)
