"""Sprig's defaults and flow-control functions (default, empty, coalesce, ternary, fail)."""

from __future__ import annotations

from typing import Any

from ..errors import FuncError
from ..funcspec import Kind, register
from .common import empty


@register("default", Kind.ANY, variadic=Kind.ANY)
def default(d: Any, *given: Any) -> Any:
    if not given or empty(given[0]):
        return d
    return given[0]


register("empty", Kind.ANY)(empty)
register("coalesce", variadic=Kind.ANY)(lambda *v: next((x for x in v if not empty(x)), None))
register("all", variadic=Kind.ANY)(lambda *v: all(not empty(x) for x in v))
register("any", variadic=Kind.ANY)(lambda *v: any(not empty(x) for x in v))
register("ternary", Kind.ANY, Kind.ANY, Kind.BOOL)(lambda t, f, c: t if c else f)
register("hello")(lambda: "Hello!")


@register("fail", Kind.STR)
def fail(msg: str) -> str:
    raise FuncError(msg)
