"""Compile a JSON-like document into a renderer, as Argo CD's `deeplyReplace` walks a template.

Every string value and every mapping key is a template; numbers, booleans and lists are kept; null
mapping values are dropped (Argo CD skips nil map entries). The compiled form keeps constant
strings as they are and rebuilds containers per call, so no two rendered Applications share a
mutable object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from generators.errors import TemplateError
from generators.templating import Engine, Params

TreeRender = Callable[[Params], Any]
_CONSTANT_SCALARS = (str, int, float, bool)


def compile_tree(node: Any, engine: Engine, path: str) -> TreeRender:
    """A function from parameters to a fresh rendered copy of `node`."""
    compiled = _compile(node, engine, path)
    if callable(compiled):
        render: TreeRender = compiled
        return render
    constant: Any = compiled
    return lambda _params: constant


def _compile(node: Any, engine: Engine, path: str) -> Any:
    """Either a constant scalar, or a renderer function."""
    if isinstance(node, str):
        render = engine.compile(node, path)
        return node if render is None else render
    if isinstance(node, Mapping):
        return _compile_mapping(node, engine, path)
    if isinstance(node, list):
        return _compile_list(node, engine, path)
    if node is None or isinstance(node, _CONSTANT_SCALARS):
        return node
    raise TemplateError(f"cannot template a value of type {type(node).__name__}", field=path)


def _compile_mapping(node: Mapping[str, Any], engine: Engine, path: str) -> TreeRender:
    entries: list[tuple[Any, Any]] = []
    for key, value in node.items():
        if value is None:
            continue
        child = f"{path}.{key}" if path else str(key)
        compiled_key = engine.compile(key, child) if isinstance(key, str) else None
        entries.append(
            (key if compiled_key is None else compiled_key, _compile(value, engine, child))
        )
    if all(not callable(k) for k, _ in entries):
        static_keys = tuple(k for k, _ in entries)
        values = tuple(v for _, v in entries)
        if not any(callable(v) for v in values):
            return lambda _params: dict(zip(static_keys, values, strict=True))
        return _render_values(static_keys, values)
    frozen = tuple(entries)

    def render(params: Params) -> dict[Any, Any]:
        return {
            (k(params) if callable(k) else k): (v(params) if callable(v) else v) for k, v in frozen
        }

    return render


def _render_values(keys: tuple[Any, ...], values: tuple[Any, ...]) -> TreeRender:
    plan = tuple(zip(keys, values, strict=True))

    def render(params: Params) -> dict[Any, Any]:
        return {k: (v(params) if callable(v) else v) for k, v in plan}

    return render


def _compile_list(node: list[Any], engine: Engine, path: str) -> TreeRender:
    items = tuple(_compile(item, engine, f"{path}[{i}]") for i, item in enumerate(node))
    if not any(callable(item) for item in items):
        return lambda _params: list(items)

    def render(params: Params) -> list[Any]:
        return [item(params) if callable(item) else item for item in items]

    return render
