"""Sprig's math and conversion functions: integer math is int64 (wrapping), as in Go."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import FuncError
from ..funcspec import Kind, register
from ..meter import check_items, check_size
from ..values import Int64
from . import gojson
from .common import to_float64, to_int64, wrap_int64
from .lists import charge_tree


def _i64(v: Any) -> Int64:
    return wrap_int64(to_int64(v))


register("add1", Kind.ANY)(lambda a: wrap_int64(to_int64(a) + 1))
register("add", variadic=Kind.ANY)(lambda *a: wrap_int64(sum(to_int64(x) for x in a)))
register("sub", Kind.ANY, Kind.ANY)(lambda a, b: wrap_int64(to_int64(a) - to_int64(b)))


def _go_div(a: int, b: int) -> int:
    if b == 0:
        raise FuncError("runtime error: integer divide by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


@register("div", Kind.ANY, Kind.ANY)
def div(a: Any, b: Any) -> Int64:
    return wrap_int64(_go_div(to_int64(a), to_int64(b)))


@register("mod", Kind.ANY, Kind.ANY)
def mod(a: Any, b: Any) -> Int64:
    x, y = to_int64(a), to_int64(b)
    return wrap_int64(x - _go_div(x, y) * y)


@register("mul", Kind.ANY, variadic=Kind.ANY)
def mul(a: Any, *rest: Any) -> Int64:
    v = to_int64(a)
    for b in rest:
        v = to_int64(wrap_int64(v * to_int64(b)))
    return wrap_int64(v)


@register(("max", "biggest"), Kind.ANY, variadic=Kind.ANY)
def go_max(a: Any, *rest: Any) -> Int64:
    return wrap_int64(max([to_int64(a), *(to_int64(x) for x in rest)]))


@register("min", Kind.ANY, variadic=Kind.ANY)
def go_min(a: Any, *rest: Any) -> Int64:
    return wrap_int64(min([to_int64(a), *(to_int64(x) for x in rest)]))


register("maxf", Kind.ANY, variadic=Kind.ANY)(
    lambda a, *r: max([to_float64(a), *(to_float64(x) for x in r)])
)
register("minf", Kind.ANY, variadic=Kind.ANY)(
    lambda a, *r: min([to_float64(a), *(to_float64(x) for x in r)])
)
register("floor", Kind.ANY)(lambda a: float(math.floor(to_float64(a))))
register("ceil", Kind.ANY)(lambda a: float(math.ceil(to_float64(a))))


@register("round", Kind.ANY, Kind.INT, variadic=Kind.FLOAT)
def go_round(a: Any, p: int, *opt: float) -> float:
    round_on = opt[0] if opt else 0.5
    val = to_float64(a)
    pow_ = math.pow(10, p)
    digit = pow_ * val
    frac = math.modf(digit)[0]
    r = math.ceil(digit) if frac >= round_on else math.floor(digit)
    return float(r) / pow_


def _dec(v: Any) -> Decimal:
    return Decimal(repr(to_float64(v)))


def _decimal_op(first: Any, rest: tuple[Any, ...], op: str) -> float:
    acc = _dec(first)
    try:
        for x in rest:
            d = _dec(x)
            if op == "+":
                acc += d
            elif op == "-":
                acc -= d
            elif op == "*":
                acc *= d
            else:
                if d == 0:
                    raise FuncError("decimal division by 0")
                acc = (acc / d).quantize(Decimal(1).scaleb(-16))
    except InvalidOperation as exc:
        raise FuncError(str(exc)) from exc
    return float(acc)


register("add1f", Kind.ANY)(lambda a: _decimal_op(a, (1,), "+"))
register("addf", variadic=Kind.ANY)(lambda *a: _decimal_op(0.0, a, "+"))
register("subf", Kind.ANY, variadic=Kind.ANY)(lambda a, *r: _decimal_op(a, r, "-"))
register("mulf", Kind.ANY, variadic=Kind.ANY)(lambda a, *r: _decimal_op(a, r, "*"))
register("divf", Kind.ANY, variadic=Kind.ANY)(lambda a, *r: _decimal_op(a, r, "/"))


@register("atoi", Kind.STR)
def atoi(s: str) -> int:
    try:
        n = int(s, 10) if s.strip() == s and "_" not in s else 0
    except ValueError:
        return 0
    return n if -(2**63) <= n < 2**63 else 0


register("int", Kind.ANY)(lambda v: to_int64(v))
register("int64", Kind.ANY)(lambda v: Int64(to_int64(v)))
register("float64", Kind.ANY)(to_float64)


@register("toDecimal", Kind.ANY)
def to_decimal(v: Any) -> Int64:
    try:
        return wrap_int64(int(str(v) if not isinstance(v, str) else v, 8))
    except ValueError:
        return Int64(0)


@register("seq", variadic=Kind.INT)
def seq(*params: int) -> str:
    if len(params) == 0:
        return ""
    if len(params) == 1:
        start, end, step = 1, params[0], 1 if params[0] >= 1 else -1
    elif len(params) == 2:
        start, end = params
        step = 1 if end >= start else -1
    elif len(params) == 3:
        start, step, end = params
        if (end > start and step <= 0) or (end < start and step >= 0) or step == 0:
            return ""
    else:
        return ""
    check_items(abs((end - start) // (step or 1)), "seq")
    text = " ".join(str(x) for x in range(start, end + (1 if step > 0 else -1), step))
    check_size(len(text), "seq")
    return text


# JSON ------------------------------------------------------------------------------------------
@register("fromJson", Kind.STR)
def from_json(s: str) -> Any:
    try:
        return _decoded(gojson.decode(s))
    except ValueError:
        return None


@register("mustFromJson", Kind.STR)
def must_from_json(s: str) -> Any:
    try:
        return _decoded(gojson.decode(s))
    except ValueError as exc:
        raise FuncError(str(exc)) from exc


def _decoded(v: Any) -> Any:
    """Decoded JSON is charged to the execution: a loop decoding a large document adds up."""
    charge_tree(v, "fromJson")
    return v


def _safe(fn: Any, v: Any) -> str:
    try:
        return str(fn(v))
    except FuncError:
        return ""


register("toJson", Kind.ANY)(lambda v: _safe(gojson.encode, v))
register("mustToJson", Kind.ANY)(lambda v: gojson.encode(v))
register("toPrettyJson", Kind.ANY)(lambda v: _safe(lambda x: gojson.encode(x, indent="  "), v))
register("mustToPrettyJson", Kind.ANY)(lambda v: gojson.encode(v, indent="  "))
register(("toRawJson", "mustToRawJson"), Kind.ANY)(lambda v: gojson.encode(v, escape_html=False))
