"""Compile a JSON-like document into a renderer, as Argo CD's `deeplyReplace` walks a template.

Every string value and every mapping key is a template; numbers, booleans and lists are kept; null
mapping values are dropped (Argo CD skips nil map entries). Containers are rebuilt on every call,
so no two rendered Applications share a mutable object.

Rendering 50,000 Applications is dominated by rebuilding these containers, so the template is
compiled into one Python function whose body is a single nested dict/list display, e.g.
`{K[0]: {K[1]: F[0](p)}, K[2]: [K[3], F[1](p)]}`. The generated source holds only indexes into
`K` (constants) and `F` (string renderers): no text from the template ever becomes code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from generators.errors import TemplateError
from generators.templating import Engine, Params, StringRender

TreeRender = Callable[[Params], Any]
_CONSTANT_SCALARS = (str, int, float, bool)
_MAX_DEPTH = 60
"""Deeper documents are refused: CPython's parser limits nested displays to about 200 levels."""


class _Builder:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.constants: list[Any] = []
        self.renderers: list[StringRender] = []

    def constant(self, value: Any) -> str:
        self.constants.append(value)
        return f"K[{len(self.constants) - 1}]"

    def string(self, source: str, path: str) -> str:
        render = self.engine.compile(source, path)
        if render is None:
            return self.constant(source)
        self.renderers.append(render)
        return f"F[{len(self.renderers) - 1}](p)"

    def expression(self, node: Any, path: str, depth: int) -> str:
        if depth > _MAX_DEPTH:
            raise TemplateError(f"document nests deeper than {_MAX_DEPTH} levels", field=path)
        if isinstance(node, str):
            return self.string(node, path)
        if isinstance(node, Mapping):
            items = []
            for key, value in node.items():
                if value is None:
                    continue
                child = f"{path}.{key}" if path else str(key)
                key_expr = self.string(key, child) if isinstance(key, str) else self.constant(key)
                items.append(f"{key_expr}: {self.expression(value, child, depth + 1)}")
            return "{" + ", ".join(items) + "}"
        if isinstance(node, list):
            items = [
                self.expression(item, f"{path}[{index}]", depth + 1)
                for index, item in enumerate(node)
            ]
            return "[" + ", ".join(items) + "]"
        if node is None or isinstance(node, _CONSTANT_SCALARS):
            return self.constant(node)
        raise TemplateError(f"cannot template a value of type {type(node).__name__}", field=path)


def compile_tree(node: Any, engine: Engine, path: str) -> TreeRender:
    """A function from parameters to a fresh rendered copy of `node`."""
    builder = _Builder(engine)
    body = builder.expression(node, path, 0)
    namespace: dict[str, Any] = {"K": tuple(builder.constants), "F": tuple(builder.renderers)}
    source = f"def render(p):\n    return {body}\n"
    # Safe: `source` holds only the indexes built above (see the module docstring).
    exec(compile(source, f"<template {path}>", "exec"), namespace)
    render: TreeRender = namespace["render"]
    return render
