"""Sprig's list and dict functions.

Sprig mutates maps in place (`set`, `unset`, `merge`) and so do we: templates that rely on
a `set` being visible later in the same render must behave as in Argo CD.
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import FuncError
from ..funcspec import Kind, register
from ..meter import ITEM_COST, charge, check_items, tick
from ..values import MISSING, Int64, type_name
from .common import as_list, empty, strval, to_int64


def _go_equal(a: Any, b: Any) -> bool:
    """reflect.DeepEqual on template values: types must match (3 and 3.0 differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_go_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_go_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _typename(v: Any) -> str:
    return type_name(v)


register(("list", "tuple"), variadic=Kind.ANY)(lambda *a: list(a))


def _push(lst: Any, v: Any) -> list[Any]:
    if not isinstance(lst, (list, tuple)):
        raise FuncError(f"Cannot push on type {_typename(lst)}")
    return [*lst, v]


def _prepend(lst: Any, v: Any) -> list[Any]:
    if not isinstance(lst, (list, tuple)):
        raise FuncError(f"Cannot prepend on type {_typename(lst)}")
    return [v, *lst]


register(("append", "push", "mustAppend", "mustPush"), Kind.ANY, Kind.ANY)(_push)
register(("prepend", "mustPrepend"), Kind.ANY, Kind.ANY)(_prepend)


def _seq(v: Any, fn: str) -> list[Any]:
    if not isinstance(v, (list, tuple)):
        raise FuncError(f"Cannot find {fn} on type {_typename(v)}")
    return list(v)


@register(("first", "mustFirst"), Kind.ANY)
def first(v: Any) -> Any:
    s = _seq(v, "first")
    return s[0] if s else None


@register(("last", "mustLast"), Kind.ANY)
def last(v: Any) -> Any:
    s = _seq(v, "last")
    return s[-1] if s else None


@register("rest", Kind.ANY)
def rest(v: Any) -> Any:
    """Returns a typed []interface{}: an empty result prints as `[]`."""
    s = _seq(v, "rest")
    return s[1:] if s else []


register("mustRest", Kind.ANY)(lambda v: rest(v) or None)


@register("initial", Kind.ANY)
def initial(v: Any) -> Any:
    """Returns a typed []interface{}: an empty result prints as `[]`."""
    s = _seq(v, "initial")
    return s[:-1] if s else []


register("mustInitial", Kind.ANY)(lambda v: initial(v) or None)


@register("reverse", Kind.ANY)
def reverse(v: Any) -> Any:
    """Returns a typed []interface{}: an empty result prints as `[]`."""
    s = _seq(v, "reverse")
    return s[::-1] if s else []


register("mustReverse", Kind.ANY)(lambda v: reverse(v) or None)


@register(("uniq", "mustUniq"), Kind.ANY)
def uniq(v: Any) -> list[Any]:
    """Go's quadratic uniq; each element ticks the meter by the comparisons it costs."""
    out: list[Any] = []
    for e in as_list(v, "uniq"):
        tick(len(out) + 1)
        if not any(_go_equal(e, o) for o in out):
            out.append(e)
    return out


@register(("without", "mustWithout"), Kind.ANY, variadic=Kind.ANY)
def without(v: Any, *omit: Any) -> list[Any]:
    out: list[Any] = []
    for e in as_list(v, "without"):
        tick(len(omit) + 1)
        if not any(_go_equal(e, o) for o in omit):
            out.append(e)
    return out


@register(("has", "mustHas"), Kind.ANY, Kind.ANY)
def has(needle: Any, haystack: Any) -> bool:
    if haystack is None:
        return False
    items = as_list(haystack, "has")
    tick(len(items))
    return any(_go_equal(needle, e) for e in items)


@register(("compact", "mustCompact"), Kind.ANY)
def compact(v: Any) -> list[Any]:
    return [e for e in as_list(v, "compact") if not empty(e)]


@register(("slice", "mustSlice"), Kind.ANY, variadic=Kind.ANY)
def sprig_slice(v: Any, *indices: Any) -> Any:
    if not isinstance(v, (list, tuple)):
        raise FuncError(f"list should be type of slice or array but {_typename(v)}")
    n = len(v)
    if n == 0:
        return None
    start = to_int64(indices[0]) if indices else 0
    end = to_int64(indices[1]) if len(indices) > 1 else n
    if not 0 <= start <= end <= n:
        raise FuncError(f"reflect: slice index out of range [{start}:{end}]")
    return list(v[start:end])


@register("concat", variadic=Kind.ANY)
def concat(*lists: Any) -> list[Any]:
    out: list[Any] = []
    for lst in lists:
        if not isinstance(lst, (list, tuple)):
            raise FuncError(f"Cannot concat type {_typename(lst)} as list")
        check_items(len(out) + len(lst), "concat")
        out.extend(lst)
    return out


@register(("chunk", "mustChunk"), Kind.INT, Kind.ANY)
def chunk(size: int, v: Any) -> list[Any]:
    lst = as_list(v, "chunk")
    if size <= 0:
        raise FuncError("runtime error: integer divide by zero")
    charge(ITEM_COST * (len(lst) + len(lst) // size), "chunk")
    return [lst[i : i + size] for i in range(0, len(lst), size)]


@register("until", Kind.INT)
def until(n: int) -> list[Any]:
    return until_step(0, n, 1 if n >= 0 else -1)


@register("untilStep", Kind.INT, Kind.INT, Kind.INT)
def until_step(start: int, stop: int, step: int) -> list[Any]:
    if step == 0 or (step > 0 and start >= stop) or (step < 0 and start <= stop):
        return []
    check_items(abs((stop - start) // step), "untilStep")
    return list(range(start, stop, step))


@register("dict", variadic=Kind.ANY)
def sprig_dict(*kv: Any) -> dict[str, Any]:
    d: dict[str, Any] = {}
    items = list(kv)
    if len(items) % 2:
        items.append("")
    for i in range(0, len(items), 2):
        d[strval(items[i])] = items[i + 1]
    return d


@register("get", Kind.MAP, Kind.STR)
def get(d: dict[str, Any], key: str) -> Any:
    return d.get(key, "")


@register("set", Kind.MAP, Kind.STR, Kind.ANY)
def set_(d: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    d[key] = value
    return d


@register("unset", Kind.MAP, Kind.STR)
def unset(d: dict[str, Any], key: str) -> dict[str, Any]:
    d.pop(key, None)
    return d


register("hasKey", Kind.MAP, Kind.STR)(lambda d, k: k in d)


@register("pluck", Kind.STR, variadic=Kind.MAP)
def pluck(name: str, *dicts: dict[str, Any]) -> list[Any]:
    return [d[name] for d in dicts if name in d]


@register("keys", variadic=Kind.MAP)
def keys(*dicts: dict[str, Any]) -> list[Any]:
    return [k for d in dicts for k in d]


@register("values", Kind.MAP)
def values(d: dict[str, Any]) -> list[Any]:
    return list(d.values())


@register("pick", Kind.MAP, variadic=Kind.STR)
def pick(d: dict[str, Any], *ks: str) -> dict[str, Any]:
    return {k: d[k] for k in ks if k in d}


@register("omit", Kind.MAP, variadic=Kind.STR)
def omit(d: dict[str, Any], *ks: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in ks}


@register("dig", Kind.ANY, Kind.ANY, variadic=Kind.ANY)
def dig(*ps: Any) -> Any:
    if len(ps) < 3:
        raise FuncError("dig needs at least three arguments")
    d = ps[-1]
    default = ps[-2]
    if not isinstance(d, dict):
        raise FuncError(f"interface conversion: interface {{}} is {_typename(d)}, not map")
    cur: Any = d
    for k in ps[:-2]:
        if type(k) is not str:
            raise FuncError(f"interface conversion: interface {{}} is {_typename(k)}, not string")
        if not isinstance(cur, dict) or k not in cur:
            return default
        cur = cur[k]
    return cur


def _merge_into(dst: dict[str, Any], src: dict[str, Any], overwrite: bool) -> None:
    """mergo.Merge semantics for maps of interface{}: recurse into maps, fill empty values."""
    charge(ITEM_COST * len(src), "merge")
    for k, sv in src.items():
        if k in dst:
            dv = dst[k]
            if isinstance(dv, dict) and isinstance(sv, dict):
                _merge_into(dv, sv, overwrite)
            elif (overwrite and not empty(sv)) or (not overwrite and empty(dv)):
                dst[k] = sv
        else:
            dst[k] = sv


@register(("merge", "mustMerge"), Kind.MAP, variadic=Kind.MAP)
def merge(dst: dict[str, Any], *srcs: dict[str, Any]) -> dict[str, Any]:
    for s in srcs:
        _merge_into(dst, s, False)
    return dst


@register(("mergeOverwrite", "mustMergeOverwrite"), Kind.MAP, variadic=Kind.MAP)
def merge_overwrite(dst: dict[str, Any], *srcs: dict[str, Any]) -> dict[str, Any]:
    for s in srcs:
        _merge_into(dst, s, True)
    return dst


@register(("deepCopy", "mustDeepCopy"), Kind.ANY)
def deep_copy(v: Any) -> Any:
    if v is None or v is MISSING:
        raise FuncError("copystructure: nil value")
    charge_tree(v, "deepCopy")
    return copy.deepcopy(v)


def charge_tree(v: Any, what: str) -> None:
    """Charge a whole structure, walked as a tree (shared parts once per reference): what
    copying or decoding it costs. Stops at the budget, so a shared-reference bomb is cheap
    to refuse."""
    stack = [v]
    seen = 0
    while stack:
        node = stack.pop()
        seen += 1
        check_items(seen, what)  # also ends a walk round a cycle (`set $d "self" $d`)
        if isinstance(node, dict):
            charge(ITEM_COST * (len(node) + 1), what)
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            charge(ITEM_COST * (len(node) + 1), what)
            stack.extend(node)
        elif type(node) is str:
            charge(len(node), what)


@register("deepEqual", Kind.ANY, Kind.ANY)
def deep_equal(a: Any, b: Any) -> bool:
    return _go_equal(a, b)


_KIND = {str: "string", bool: "bool", int: "int", Int64: "int64", float: "float64"}


@register("typeOf", Kind.ANY)
def type_of(v: Any) -> str:
    return _typename(v)


@register("kindOf", Kind.ANY)
def kind_of(v: Any) -> str:
    if isinstance(v, dict):
        return "map"
    if isinstance(v, list):
        return "slice"
    if v is None:
        return "invalid"
    return _KIND.get(type(v), "struct")


register("typeIs", Kind.STR, Kind.ANY)(lambda t, v: t == _typename(v))
register("typeIsLike", Kind.STR, Kind.ANY)(lambda t, v: t in (_typename(v), "*" + _typename(v)))
register("kindIs", Kind.STR, Kind.ANY)(lambda t, v: t == kind_of(v))
