"""Helpers shared by the Sprig function families: Go's strval/strslice/empty and limits."""

from __future__ import annotations

from typing import Any

from ..errors import FuncError
from ..meter import ITEM_COST, MAX_STRING, charge, check_items, check_size
from ..values import MISSING, Int64, format_value

__all__ = ["MAX_STRING", "check_items", "check_size"]


def check_strings(parts: list[str], what: str, sep: str = "") -> None:
    """Refuse before joining `parts`: the joined result must fit the string limit."""
    check_size(sum(map(len, parts)) + len(sep) * max(len(parts) - 1, 0), what)


def strval(v: Any) -> str:
    """Sprig's strval: strings as-is, everything else as Go's %v."""
    if type(v) is str:
        return v
    if v is MISSING:
        return "<nil>"
    return format_value(v)


def strslice(v: Any) -> list[str]:
    """Sprig's strslice: a list of strings from a list (nils dropped) or a single value."""
    if isinstance(v, (list, tuple)):
        charge(ITEM_COST * len(v), "converting a list to strings")
        return [strval(e) for e in v if e is not None and e is not MISSING]
    if v is None or v is MISSING:
        return []
    return [strval(v)]


def empty(v: Any) -> bool:
    """Sprig's empty: Go's zero values and empty containers."""
    if v is None or v is MISSING:
        return True
    if isinstance(v, (str, list, tuple, dict, bool, int, float)):
        return not v
    return False


def as_list(v: Any, fn: str) -> list[Any]:
    """Sprig's list functions accept any slice; anything else is an error (or panic) in Go."""
    if isinstance(v, (list, tuple)):
        return list(v)
    if type(v) is str:
        raise FuncError(f"Cannot find {fn} on type string")
    raise FuncError(f"Cannot find {fn} on type {type(v).__name__}")


def to_int64(v: Any) -> int:
    """spf13/cast.ToInt64 as Sprig uses it: unparseable values become 0."""
    t = type(v)
    if t is bool:
        return 1 if v else 0
    if t is int or t is Int64:
        return int(v)
    if t is float:
        if v != v or v in (float("inf"), float("-inf")):
            return -(2**63)
        return int(v)
    if t is str:
        s = v
        if "." in s:
            head, _, tail = s.partition(".")
            if tail and set(tail) == {"0"}:
                s = head
        try:
            if s.lstrip("+-").lower().startswith(("0x", "0o", "0b")):
                return int(s, 0)
            if len(s.lstrip("+-")) > 1 and s.lstrip("+-").startswith("0"):
                return int(s, 8)
            return int(s, 10)
        except ValueError:
            return 0
    return 0


def to_float64(v: Any) -> float:
    """spf13/cast.ToFloat64: unparseable values become 0."""
    t = type(v)
    if t is bool:
        return 1.0 if v else 0.0
    if t in (int, Int64, float):
        return float(v)
    if t is str:
        try:
            return float(v.strip())
        except ValueError:
            return 0.0
    return 0.0


def wrap_int64(n: int) -> Int64:
    """Go int64 arithmetic wraps around."""
    n &= (1 << 64) - 1
    if n >= 1 << 63:
        n -= 1 << 64
    return Int64(n)
