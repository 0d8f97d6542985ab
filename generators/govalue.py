"""Values as Go prints them with `fmt.Sprintf("%v", v)` after a trip through encoding/json.

Argo CD flattens git-file parameters with `%v`, and every number it read from YAML or JSON is a
float64 by then: `replicas: 3` becomes "3", `1000000` becomes "1e+06". Matching that keeps
Application names identical when a team moves from Argo CD.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from generators.templating.gotemplate.values import format_float_g


def go_sprint(value: Any) -> str:
    """`fmt.Sprintf("%v", v)` for a JSON-decoded scalar."""
    if isinstance(value, str):
        return value
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return format_float_g(float(value))
    return str(value)


def flatten(document: Mapping[str, Any]) -> dict[str, Any]:
    """Dot-style flattening (jeremywohl/flatten): lists index by position, empties vanish."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{prefix}.{index}" if prefix else str(index))
        else:
            flat[prefix] = node

    walk(document, "")
    return flat


def flat_strings(params: Mapping[str, Any]) -> dict[str, str]:
    """Parameters as the labels a generator `selector` matches: flattened, printed with `%v`."""
    return {key: go_sprint(value) for key, value in flatten(params).items()}
