"""Go text/template's predefined functions (and, or, not, len, index, slice, print*, eq...).

Comparison follows Go's rules exactly, including refusing to compare an int with a float64:
that is the error a user meets with `eq .replicas 3` (data numbers are float64), and hiding
it would make a template pass here and fail in Argo CD.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Any

from .errors import FuncError
from .funcspec import Kind, register
from .gofmt import sprint, sprintf, sprintln
from .meter import check_size
from .values import MISSING, Int64, format_value, is_true, type_name

if TYPE_CHECKING:
    from .exec import Cmd, Compiler, State
    from .parser import Node


def compile_and_or(comp: Compiler, is_or: bool, arg_nodes: list[Node], node: Node) -> Cmd:
    """and/or short-circuit and return the deciding operand itself, as in Go 1.18+."""
    from .exec import NOFINAL, ExecError

    evs = [comp.arg(a, Kind.VALUE) for a in arg_nodes]
    name = "or" if is_or else "and"

    def cmd_and_or(st: State, dot: Any, frame: list[Any], final: Any) -> Any:
        st.step(node)
        if not evs and final is NOFINAL:
            raise ExecError(f"wrong number of args for {name}: want at least 1 got 0", node)
        v: Any = MISSING
        for e in evs:
            v = e(st, dot, frame)
            if is_true(v) == is_or:
                return v
        if final is not NOFINAL:
            v = final
        return v

    return cmd_and_or


register("and", Kind.VALUE, variadic=Kind.VALUE)(lambda *a: a[-1])
register("or", Kind.VALUE, variadic=Kind.VALUE)(lambda *a: a[-1])


@register("not", Kind.VALUE)
def _not(v: Any) -> bool:
    return not is_true(v)


_BASIC = {bool: "bool", int: "int", Int64: "int", float: "float", str: "string"}


def _basic(v: Any) -> str | None:
    return _BASIC.get(type(v))


def _is_nil(v: Any) -> bool:
    return v is None or v is MISSING


@register("eq", Kind.VALUE, variadic=Kind.VALUE)
def eq(a: Any, *rest: Any) -> bool:
    if not rest:
        raise FuncError("missing argument for comparison")
    k1 = _basic(a)
    for b in rest:
        k2 = _basic(b)
        if k1 != k2:
            if not _is_nil(a) and not _is_nil(b):
                raise FuncError("incompatible types for comparison")
            truth = False
        elif k1 is not None:
            truth = a == b
        elif _is_nil(a) or _is_nil(b):
            truth = _is_nil(a) and _is_nil(b)
        else:
            raise FuncError(f"non-comparable type {format_value(b)}: {type_name(b)}")
        if truth:
            return True
    return False


@register("ne", Kind.VALUE, Kind.VALUE)
def ne(a: Any, b: Any) -> bool:
    return not eq(a, b)


@register("lt", Kind.VALUE, Kind.VALUE)
def lt(a: Any, b: Any) -> bool:
    k1, k2 = _basic(a), _basic(b)
    if k1 is None or k2 is None:
        raise FuncError("invalid type for comparison")
    if k1 != k2:
        raise FuncError("incompatible types for comparison")
    if k1 == "bool":
        raise FuncError("invalid type for comparison")
    return bool(a < b)


@register("le", Kind.VALUE, Kind.VALUE)
def le(a: Any, b: Any) -> bool:
    return lt(a, b) or eq(a, b)


@register("gt", Kind.VALUE, Kind.VALUE)
def gt(a: Any, b: Any) -> bool:
    return not le(a, b)


@register("ge", Kind.VALUE, Kind.VALUE)
def ge(a: Any, b: Any) -> bool:
    return not lt(a, b)


def go_len(v: Any) -> int:
    """Go's len(): strings count UTF-8 bytes."""
    if type(v) is str:
        return len(v) if v.isascii() else len(v.encode())
    if isinstance(v, (list, dict, tuple)):
        return len(v)
    if _is_nil(v):
        raise FuncError("len of nil pointer")
    raise FuncError(f"len of type {type_name(v)}")


register("len", Kind.VALUE)(go_len)


def _index_arg(i: Any, cap: int, what: str = "index") -> int:
    if type(i) not in (int, Int64):
        if _is_nil(i):
            raise FuncError("cannot index slice/array with nil")
        raise FuncError(f"cannot index slice/array with type {type_name(i)}")
    if i < 0 or i > cap:
        raise FuncError(f"{what} out of range: {i}")
    return int(i)


@register("index", Kind.VALUE, variadic=Kind.VALUE)
def index(item: Any, *indexes: Any) -> Any:
    if _is_nil(item):
        raise FuncError("index of untyped nil")
    for ix in indexes:
        if item is None:
            raise FuncError("index of nil pointer")
        t = type(item)
        if t is list or t is tuple or t is str:
            seq: Any = item.encode() if t is str else item
            x = _index_arg(ix, len(seq))
            if x >= len(seq):
                raise FuncError(f"index out of range: {x}")
            item = seq[x]
        elif t is dict:
            if type(ix) is not str:
                if _is_nil(ix):
                    raise FuncError("value is nil; should be of type string")
                raise FuncError(f"value has type {type_name(ix)}; should be string")
            item = item.get(ix)
        else:
            raise FuncError(f"can't index item of type {type_name(item)}")
    return item


@register("slice", Kind.VALUE, variadic=Kind.VALUE)
def go_slice(item: Any, *indexes: Any) -> Any:
    if _is_nil(item):
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    t = type(item)
    if t is str:
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        seq: Any = item.encode()
    elif t is list or t is tuple:
        seq = item
    else:
        raise FuncError(f"can't slice item of type {type_name(item)}")
    idx = [0, len(seq), len(seq)]
    for i, ix in enumerate(indexes):
        idx[i] = _index_arg(ix, len(seq))
    if idx[0] > idx[1]:
        raise FuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise FuncError(f"invalid slice index: {idx[1]} > {idx[2]}")
    out = seq[idx[0] : idx[1]]
    if t is str:
        return out.decode("utf-8", errors="replace")
    return list(out)


register("print", variadic=Kind.ANY)(lambda *a: sprint(list(a)))
register("println", variadic=Kind.ANY)(lambda *a: sprintln(list(a)))
register("printf", Kind.STR, variadic=Kind.ANY)(lambda f, *a: sprintf(f, list(a)))


def _eval_args(args: tuple[Any, ...]) -> str:
    if len(args) == 1 and type(args[0]) is str:
        s = str(args[0])
    else:
        s = sprint(["<no value>" if _is_nil(a) else a for a in args])
    return s


def _capped(s: str, what: str) -> str:
    """Escaping grows a string at most twelvefold (urlquery of 4-byte runes): check after."""
    check_size(len(s), what)
    return s


@register("html", variadic=Kind.ANY)
def html(*args: Any) -> str:
    s = _eval_args(args)
    return _capped(
        s.replace("&", "&amp;")
        .replace("'", "&#39;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("\x00", "\ufffd"),
        "html",
    )


_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026"}


@register("js", variadic=Kind.ANY)
def js(*args: Any) -> str:
    out = []
    for ch in _eval_args(args):
        if ch in _JS:
            out.append(_JS[ch])
        elif ch == "=":
            out.append("\\u003D")
        elif (ch.isprintable() and ch != "\x7f") or ch == " ":
            out.append(ch)
        else:
            out.append(f"\\u{ord(ch):04X}")
    return _capped("".join(out), "js")


@register("urlquery", variadic=Kind.ANY)
def urlquery(*args: Any) -> str:
    return _capped(urllib.parse.quote_plus(_eval_args(args), safe=""), "urlquery")


@register("call", Kind.VALUE, variadic=Kind.VALUE)
def call(fn: Any, *args: Any) -> Any:
    if _is_nil(fn):
        raise FuncError("call of nil")
    raise FuncError(f"non-function {format_value(fn)} of type {type_name(fn)}")
