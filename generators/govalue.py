"""Values as Go prints them with `fmt.Sprintf("%v", v)` after a trip through encoding/json.

Argo CD flattens git-file parameters with `%v`, and every number it read from YAML or JSON is a
float64 by then: `replicas: 3` becomes "3", `1000000` becomes "1e+06". Matching that keeps
Application names identical when a team moves from Argo CD.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def go_float(value: float) -> str:
    """Go's `%v` of a float64: shortest digits, exponent form from 1e+06 and below 1e-04."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    point = len(text) + exponent  # position of the decimal point in the digit string
    exp = point - 1
    prefix = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return prefix + text + "0" * (point - len(text))
    return f"{prefix}{text[:point]}.{text[point:]}"


def go_sprint(value: Any) -> str:
    """`fmt.Sprintf("%v", v)` for a JSON-decoded scalar."""
    if isinstance(value, str):
        return value
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return go_float(float(value))
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
