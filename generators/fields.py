"""Typed access to fields of parsed YAML, raising errors that name the field path.

Every generator reads its spec through these helpers, so a user always sees one kind of message:
`spec.generators[1].list.elements[3]: expected a mapping, got a string`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from generators.errors import InvalidApplicationSetError


def type_name(value: Any) -> str:
    """How a YAML user would name the type of a value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def expect_mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidApplicationSetError(path, f"expected a mapping, got {type_name(value)}")
    return value


def expect_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidApplicationSetError(path, f"expected a list, got {type_name(value)}")
    return value


def expect_str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise InvalidApplicationSetError(path, f"expected a string, got {type_name(value)}")
    return value


def expect_bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidApplicationSetError(path, f"expected a boolean, got {type_name(value)}")
    return value


def optional_mapping(parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    """The mapping at `key`, or an empty one when absent or null."""
    value = parent.get(key)
    return {} if value is None else expect_mapping(value, f"{path}.{key}")


def optional_list(parent: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = parent.get(key)
    return [] if value is None else expect_list(value, f"{path}.{key}")


def optional_str(parent: Mapping[str, Any], key: str, path: str, default: str = "") -> str:
    value = parent.get(key)
    return default if value is None else expect_str(value, f"{path}.{key}")


def optional_bool(parent: Mapping[str, Any], key: str, path: str, default: bool = False) -> bool:
    value = parent.get(key)
    return default if value is None else expect_bool(value, f"{path}.{key}")


def string_map(parent: Mapping[str, Any], key: str, path: str) -> dict[str, str]:
    """A `map[string]string` field such as `values`, `labels` or `annotations`."""
    result: dict[str, str] = {}
    for name, value in optional_mapping(parent, key, path).items():
        result[str(name)] = expect_str(value, f"{path}.{key}.{name}")
    return result


def reject_unknown(raw: Mapping[str, Any], allowed: frozenset[str], path: str) -> None:
    """Refuse fields the schema does not have: a typo must not silently change what is generated."""
    for name in raw:
        if name not in allowed:
            expected = ", ".join(sorted(allowed))
            raise InvalidApplicationSetError(
                f"{path}.{name}", f"unknown field (expected one of: {expected})"
            )
