"""The compiled template object and the compile cache behind `compile_template`."""

from __future__ import annotations

import functools
from typing import Any

from . import builtins, sprig  # noqa: F401  (importing registers the functions)
from .errors import GoTemplateError, GoTemplateLimitError
from .exec import (
    MAX_OUTPUT,
    MK_DEFAULT,
    MK_ERROR,
    MK_ZERO,
    CompiledTree,
    Compiler,
    ExecError,
    State,
)
from .funcspec import REGISTRY
from .lexer import line_col
from .meter import CURRENT, LimitFuncError
from .parser import (
    ActionNode,
    FieldNode,
    IdentifierNode,
    ParseError,
    StringNode,
    TextNode,
    Tree,
    parse,
)
from .values import MISSING, format_float_g, from_json_data, print_value

_MISSINGKEY = {"default": MK_DEFAULT, "invalid": MK_DEFAULT, "zero": MK_ZERO, "error": MK_ERROR}

# A fast-path part: literal text, a field chain, or a field chain followed by `index` keys.
_Part = str | tuple[str, ...] | list[Any]


def _fast_parts(tree: Tree, ntrees: int) -> list[_Part] | None:
    """Recognise templates made only of text, `{{.a.b}}` and `{{index .a "k"}}` actions.

    Those are nearly all real ApplicationSet templates; rendering them with a flat loop
    instead of the general interpreter is what keeps goTemplate mode near the cost of plain
    substitution. Anything unusual at run time falls back to the general path.
    """
    if ntrees != 1:
        return None
    parts: list[_Part] = []
    for n in tree.root:
        if isinstance(n, TextNode):
            parts.append(n.text)
            continue
        if not isinstance(n, ActionNode) or n.pipe.decl or len(n.pipe.cmds) != 1:
            return None
        args = n.pipe.cmds[0].args
        if len(args) == 1 and isinstance(args[0], FieldNode):
            parts.append(args[0].fields)
        elif (
            len(args) >= 3
            and isinstance(args[0], IdentifierNode)
            and args[0].name == "index"
            and isinstance(args[1], FieldNode)
            and all(isinstance(a, StringNode) for a in args[2:])
        ):
            parts.append(
                [args[1].fields, tuple(a.text for a in args[2:] if isinstance(a, StringNode))]
            )
        else:
            return None
    return parts


class GoTemplate:
    """A parsed and compiled template; `execute` is safe to call from many threads."""

    __slots__ = ("_fast", "_mk", "_trees", "name", "source")

    def __init__(self, source: str, name: str, missingkey: str) -> None:
        if missingkey not in _MISSINGKEY:
            raise GoTemplateError(
                f'unrecognized option missingkey="{missingkey}" '
                '(want "default", "invalid", "zero" or "error")',
                field=name,
            )
        self.source = source
        self.name = name
        self._mk = _MISSINGKEY[missingkey]
        try:
            trees = parse(source, name, REGISTRY)
        except ParseError as exc:
            raise GoTemplateError(
                exc.msg,
                field=name,
                position=line_col(source, exc.pos),
            ) from exc
        except RecursionError as exc:
            raise GoTemplateError("template nested too deeply", field=name) from exc
        self._trees: dict[str, CompiledTree] = Compiler(trees).compile_all()
        parts = _fast_parts(trees[name], len(trees))
        self._fast = parts if self._mk == MK_DEFAULT else None

    def execute(self, data: Any) -> str:
        """Render with `data` as dot; raises GoTemplateError on any execution error."""
        if self._fast is not None:
            out = self._run_fast(self._fast, data)
            if out is not None:
                return out
        return self._run(data)

    def _run_fast(self, parts: list[_Part], data: Any) -> str | None:
        out: list[str] = []
        size = 0
        for p in parts:
            if p.__class__ is str:
                out.append(p)
                continue
            v = data
            try:
                if p.__class__ is tuple:
                    for k in p:
                        v = v[k]
                else:
                    for k in p[0]:
                        v = v[k]
                    for k in p[1]:
                        if v.__class__ is not dict:
                            return None
                        v = v.get(k)
            except (KeyError, TypeError, IndexError):
                return None
            c = v.__class__
            if c is str:
                piece = v
            elif c is int:
                piece = format_float_g(float(v))
            elif c is float or c is bool or v is None:
                piece = print_value(v)
            else:
                return None  # maps and lists print through the general (metered) path
            size += len(piece)
            if size > MAX_OUTPUT:
                return None  # let the general path report the limit with a position
            out.append(piece)
        return "".join(out)

    def _run(self, data: Any) -> str:
        st = State(self._mk, self._trees)
        tree = self._trees[self.name]
        dot = _go_data(data)
        frame: list[Any] = [None] * tree.nslots
        frame[0] = dot
        token = CURRENT.set(st)
        try:
            tree.run(st, dot, frame)
        except ExecError as exc:
            pos = line_col(self.source, exc.node.pos) if exc.node is not None else ""
            ctx = ""
            if exc.node is not None:
                ctx = _node_context(exc.node)
            detail = f'executing "{self.name}" at <{ctx}>: {exc.msg}'
            if exc.limit:
                raise GoTemplateLimitError(
                    detail, field=self.name, position=pos, limit=exc.limit
                ) from exc
            raise GoTemplateError(detail, field=self.name, position=pos) from exc
        except LimitFuncError as exc:
            # A limit hit outside a function call (printing an action's value).
            detail = f'executing "{self.name}": {exc}'
            raise GoTemplateLimitError(detail, field=self.name, limit=exc.limit) from exc
        except RecursionError as exc:
            raise GoTemplateError("execution nested too deeply", field=self.name) from exc
        finally:
            CURRENT.reset(token)
        return "".join(st.out)


_last_data: tuple[Any, int, Any] = (None, -1, MISSING)


def _go_data(data: Any) -> Any:
    """Convert parameters to Go's JSON types, reusing the result for the same object.

    A caller renders several fields of one Application with the same parameter map, so the
    conversion (a walk over the whole map) is remembered for the most recent map. The map
    must not be mutated between renders (its size is checked as a cheap guard).
    """
    global _last_data
    if data is None:
        return MISSING
    last, size, out = _last_data
    n = len(data) if isinstance(data, dict) else -2
    if last is data and size == n:
        return out
    try:
        out = from_json_data(data)
    except RecursionError as exc:
        raise GoTemplateError("parameters nested too deeply") from exc
    _last_data = (data, n, out)
    return out


def _node_context(node: Any) -> str:
    s = str(node)
    if "object at 0x" in s:
        s = type(node).__name__
    return s if len(s) <= 20 else s[:20] + "..."


@functools.lru_cache(maxsize=4096)
def _compile_cached(source: str, name: str, missingkey: str) -> GoTemplate:
    return GoTemplate(source, name, missingkey)


def compile_template(
    source: str, *, name: str = "template", missingkey: str = "default"
) -> GoTemplate:
    """Parse and compile `source` once; later calls with the same arguments reuse it."""
    return _compile_cached(source, name, missingkey)
