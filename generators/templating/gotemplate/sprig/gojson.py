"""encoding/json's output format, which toJson/toPrettyJson/toRawJson must reproduce.

Python's json module differs from Go in float layout (`3.0` vs `3`), HTML escaping and key
order, so a small encoder with Go's rules is simpler than patching json.dumps.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..errors import FuncError
from ..meter import check_size
from ..values import MISSING, Int64, bounded_join, shortest_digits


def go_json_float(f: float) -> str:
    if math.isnan(f) or math.isinf(f):
        raise FuncError(f"json: unsupported value: {f}")
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    neg = "-" if f < 0 else ""
    digits, dp = shortest_digits(f)
    a = abs(f)
    if a < 1e-6 or a >= 1e21:
        exp = dp - 1
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{neg}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}".replace("e-0", "e-")
    if dp <= 0:
        return neg + "0." + "0" * (-dp) + digits
    if dp >= len(digits):
        return neg + digits + "0" * (dp - len(digits))
    return neg + digits[:dp] + "." + digits[dp:]


def _quote(s: str, escape_html: bool) -> str:
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif o < 0x20:
            out.append(
                {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}.get(
                    ch, f"\\u{o:04x}"
                )
            )
        elif (escape_html and ch in "<>&") or o in (0x2028, 0x2029):
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    out.append('"')
    quoted = "".join(out)
    check_size(len(quoted), "JSON encoding")
    return quoted


def encode(v: Any, escape_html: bool = True, indent: str | None = None, level: int = 0) -> str:
    t = type(v)
    if v is None or v is MISSING:
        return "null"
    if t is bool:
        return "true" if v else "false"
    if t is str:
        return _quote(v, escape_html)
    if t is int or t is Int64:
        return str(int(v))
    if t is float:
        return go_json_float(v)
    # Containers are joined under the string limit as they are built: a list holding the
    # same list twice, nested thirty times, would otherwise encode to gigabytes.
    if t is dict:
        if not v:
            return "{}"
        items = (
            (_quote(str(k), escape_html), encode(v[k], escape_html, indent, level + 1))
            for k in sorted(v)
        )
        if indent is None:
            return bounded_join("{", (f"{k}:{e}" for k, e in items), "}", ",", "JSON encoding")
        pad = "\n" + indent * (level + 1)
        return bounded_join(
            "{",
            (f"{pad}{k}: {e}" for k, e in items),
            "\n" + indent * level + "}",
            ",",
            "JSON encoding",
        )
    if t is list or t is tuple:
        if not v:
            return "[]"
        elems = (encode(e, escape_html, indent, level + 1) for e in v)
        if indent is None:
            return bounded_join("[", elems, "]", ",", "JSON encoding")
        pad = "\n" + indent * (level + 1)
        return bounded_join(
            "[", (pad + e for e in elems), "\n" + indent * level + "]", ",", "JSON encoding"
        )
    if hasattr(v, "go_json"):
        return str(v.go_json())
    raise FuncError(f"json: unsupported type: {type(v).__name__}")


def _no_constants(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def decode(s: str) -> Any:
    """json.Unmarshal into interface{}: all numbers are float64."""
    return json.loads(s, parse_int=float, parse_constant=_no_constants)
