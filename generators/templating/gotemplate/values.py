"""How Go values are represented in Python, and how Go prints them with `%v`.

Argo CD passes parameters through encoding/json into `interface{}`, so every number in the
data is a float64 while integer literals in templates are Go `int` and Sprig's math returns
`int64`. We keep that distinction with Python types: `float` is float64, `int` is Go int,
`Int64` is int64 (printing is identical, but Go refuses to pass an int64 where an int is
wanted). `MISSING` is Go's invalid `reflect.Value` (a missing map key), distinct from `None`
(a nil interface, e.g. a JSON null), because Go treats them differently in field chains.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Final

from .meter import charge, check_size


class _Missing:
    """Singleton for Go's invalid reflect.Value."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()
NO_VALUE: Final = "<no value>"


class Int64(int):
    """A Go int64 (what Sprig's integer math returns); a plain `int` is Go's `int`."""

    __slots__ = ()


def type_name(v: Any) -> str:
    """Go's `%T` spelling of a value's dynamic type, used in error messages."""
    t = type(v)
    if t is str:
        return "string"
    if t is bool:
        return "bool"
    if t is Int64:
        return "int64"
    if t is int:
        return "int"
    if t is float:
        return "float64"
    if t is dict:
        return "map[string]interface {}"
    if t is list or t is tuple:
        return "[]interface {}"
    if v is None or v is MISSING:
        return "<nil>"
    return t.__name__


def is_true(v: Any) -> bool:
    """Go template truthiness: zero values and empty containers are false."""
    if v is None or v is MISSING:
        return False
    if isinstance(v, (str, dict, list, tuple, bool, int, float)):
        return bool(v)
    return True


def shortest_digits(f: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of |f| and the decimal point position.

    The value equals 0.DIGITS x 10**dp; Python's repr already finds the shortest digits, the
    same ones Go's strconv picks, so only the layout has to be redone Go's way.
    """
    s = repr(abs(f))
    if "e" in s:
        m, e_s = s.split("e")
        e = int(e_s)
    else:
        m, e = s, 0
    ip, _, fp = m.partition(".")
    digits = ip + fp
    stripped = digits.lstrip("0")
    z = len(digits) - len(stripped)
    dp = len(ip) + e - z
    stripped = stripped.rstrip("0")
    if not stripped:
        return "0", 1
    return stripped, dp


def _exp_str(exp: int) -> str:
    sign = "-" if exp < 0 else "+"
    return f"e{sign}{abs(exp):02d}"


def format_float_g(f: float) -> str:
    """Go's `%v` for a float64: shortest digits, exponent form when exp < -4 or exp >= 6."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    neg = "-" if math.copysign(1.0, f) < 0 else ""
    if f == 0:
        return neg + "0"
    digits, dp = shortest_digits(f)
    exp = dp - 1
    if exp < -4 or exp >= 6:
        head = digits[0]
        tail = digits[1:]
        return neg + head + ("." + tail if tail else "") + _exp_str(exp)
    if dp <= 0:
        return neg + "0." + "0" * (-dp) + digits
    if dp >= len(digits):
        return neg + digits + "0" * (dp - len(digits))
    return neg + digits[:dp] + "." + digits[dp:]


def format_value(v: Any) -> str:
    """Go's `fmt.Sprint` of one value (`%v`): maps with sorted keys, slices in brackets."""
    t = type(v)
    if t is str:
        return v  # type: ignore[no-any-return]
    if t is float:
        return format_float_g(v)
    if t is bool:
        return "true" if v else "false"
    if t is int or t is Int64:
        return str(int(v))
    if v is None or v is MISSING:
        return "<nil>"
    if t is dict:
        items = (f"{format_value(k)}:{format_value(v[k])}" for k in sorted(v))
        return bounded_join("map[", items, "]")
    if t is list or t is tuple:
        return bounded_join("[", (format_value(e) for e in v), "]")
    if t is bytes:
        return "[" + " ".join(str(b) for b in v) + "]"
    return str(v)


def bounded_join(
    head: str, pieces: Iterable[str], tail: str, sep: str = " ", what: str = "printing a value"
) -> str:
    """`head + sep.join(pieces) + tail`, refused before it outgrows the string limit.

    A list holding the same list twice, nested twenty times, prints as a million elements:
    the running size stops it, and each level's string is charged to the execution."""
    out: list[str] = []
    size = len(head) + len(tail)
    for piece in pieces:
        size += len(piece) + len(sep)
        check_size(size, what)
        out.append(piece)
    charge(size, what)
    return head + sep.join(out) + tail


def print_value(v: Any) -> str:
    """What `{{ pipeline }}` writes: like `%v`, but a nil/missing value is `<no value>`."""
    t = type(v)
    if t is str:
        return v  # type: ignore[no-any-return]
    if v is None or v is MISSING:
        return NO_VALUE
    return format_value(v)


def from_json_data(v: Any) -> Any:
    """Give JSON-like Python data the types encoding/json would: every number a float64.

    Returns the same object when nothing needs converting, so the common all-strings
    parameter map costs one walk and no copy.
    """
    t = type(v)
    if t is int:
        return float(v)
    if t is dict:
        out: dict[str, Any] | None = None
        for k, e in v.items():
            c = from_json_data(e)
            if c is not e:
                if out is None:
                    out = dict(v)
                out[k] = c
        return v if out is None else out
    if t is list or t is tuple:
        lout: list[Any] | None = None
        for i, e in enumerate(v):
            c = from_json_data(e)
            if c is not e:
                if lout is None:
                    lout = list(v)
                lout[i] = c
        if lout is not None:
            return lout
        return v if t is list else list(v)
    if isinstance(v, Mapping):
        # Dict subclasses and other mappings become plain maps, as JSON decoding would.
        return {str(k): from_json_data(e) for k, e in v.items()}
    return v
