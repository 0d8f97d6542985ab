"""YAML and JSON loading with Kubernetes' (sigs.k8s.io/yaml) reading of scalars.

Argo CD parses YAML by converting it to JSON first, so timestamps stay strings. PyYAML's safe loader
would turn `2024-01-01` into a `date`, which neither JSON nor a template can hold; this loader keeps
it a string. The C loader is used when PyYAML was built with libyaml (an order of magnitude faster
on large ClusterSets and parameter files).

Everything parsed here may come from someone else (a repository, a webhook, the hub), so every
document is also checked for a shape the rest of the code can walk without harm
(`check_shape`): nesting at most MAX_DEPTH deep (deeper input would raise RecursionError in
whatever recursive code reads it next: deepcopy, templating, merging, json.dumps), at most
MAX_NODES values once YAML aliases are expanded (a "billion laughs" file is a few hundred bytes
that expand to 10^9 values when serialised), no alias cycles, and only JSON's value types. A
document that breaks a bound raises DocumentShapeError, which is both a `yaml.YAMLError` and a
`ValueError`, so callers that already handle malformed YAML or JSON handle it too.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

MAX_DEPTH = 100
"""Deepest nesting of lists and maps accepted. Kubernetes objects, Helm values and generator
parameter files stay well under 40; Python code walking a document recursively needs a few
frames per level out of the interpreter's 1,000."""
MAX_NODES = 1_000_000
"""Most values (scalars and containers) one YAML document may hold with its aliases expanded."""

_JSON_SCALARS = (str, int, float, bool, type(None))


class DocumentShapeError(yaml.YAMLError, ValueError):
    """A document too deep, too large once expanded, cyclic, or holding a non-JSON value."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def check_shape(
    value: Any,
    *,
    max_depth: int = MAX_DEPTH,
    max_nodes: int | None = MAX_NODES,
    shared: bool = True,
) -> Any:
    """Return `value` if it is a tree of JSON values within the bounds, else raise
    DocumentShapeError. Iterative (it cannot itself hit the recursion limit).

    `shared`: the value may share containers (YAML aliases): each shared container is walked
    once, its expanded size remembered, and a container inside itself is refused. JSON parsers
    never share, so `shared=False` skips that bookkeeping. `max_nodes=None`: depth only (a list
    response from the API server is large but flat).
    """
    if isinstance(value, _JSON_SCALARS):
        return value
    memo: dict[int, tuple[int, int]] = {}  # id(container) -> (expanded values, height)
    on_path: set[int] = set()
    # frames: [container, iterator over its children, values so far, tallest child]
    stack: list[list[Any]] = []

    def enter(node: Any) -> None:
        if len(stack) >= max_depth:
            raise DocumentShapeError(f"nested deeper than {max_depth} levels")
        if shared:
            on_path.add(id(node))
        items = node.values() if isinstance(node, dict) else node
        stack.append([node, iter(items), 1, 0])

    def add(frame: list[Any], nodes: int, height: int) -> None:
        frame[2] += nodes
        frame[3] = max(frame[3], height)
        if max_nodes is not None and frame[2] > max_nodes:
            raise DocumentShapeError(f"more than {max_nodes} values once aliases are expanded")

    _require_container(value)
    enter(value)
    result = (0, 0)
    while stack:
        frame = stack[-1]
        child = next(frame[1], _END)
        if child is _END:
            stack.pop()
            node = frame[0]
            result = (frame[2], frame[3] + 1)
            if shared:
                on_path.discard(id(node))
                memo[id(node)] = result
            if stack:
                add(stack[-1], *result)
            continue
        if isinstance(child, _JSON_SCALARS):
            add(frame, 1, 0)
            continue
        _require_container(child)
        if shared:
            if id(child) in on_path:
                raise DocumentShapeError("an alias refers to a collection that contains it")
            known = memo.get(id(child))
            if known is not None:
                if len(stack) + known[1] > max_depth:
                    raise DocumentShapeError(f"nested deeper than {max_depth} levels")
                add(frame, *known)
                continue
        enter(child)
    return value


_END = object()


def _require_container(node: Any) -> None:
    if isinstance(node, dict):
        for key in node:
            if not isinstance(key, _JSON_SCALARS):
                raise DocumentShapeError(f"a map key of type {type(key).__name__}")
        return
    if not isinstance(node, list):
        raise DocumentShapeError(
            f"a value of type {type(node).__name__} (only JSON types: maps, lists, strings, "
            "numbers, booleans, null)"
        )


def load_json(text: str | bytes, *, max_nodes: int | None = None) -> Any:
    """Parse JSON from someone else (webhook, API server): ValueError when malformed,
    DocumentShapeError (a ValueError) when nested deeper than MAX_DEPTH."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise DocumentShapeError(f"nested deeper than {MAX_DEPTH} levels") from None
    return check_shape(value, max_nodes=max_nodes, shared=False)


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KubeYAMLLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe loader whose timestamps are plain strings."""


KubeYAMLLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(text: str | bytes) -> Any:
    """Parse one YAML (or JSON) document within the bounds of `check_shape`. Raises
    `yaml.YAMLError` on malformed input (DocumentShapeError is one)."""
    try:
        return check_shape(yaml.load(text, Loader=KubeYAMLLoader))
    except _CONSTRUCTOR_ERRORS as error:
        raise _shape_error(error) from None


def load_all(text: str | bytes) -> list[Any]:
    """Parse every document of a YAML stream, skipping empty documents (each one bounded)."""
    try:
        docs = [doc for doc in yaml.load_all(text, Loader=KubeYAMLLoader) if doc is not None]
    except _CONSTRUCTOR_ERRORS as error:
        raise _shape_error(error) from None
    return [check_shape(doc) for doc in docs]


# What PyYAML's constructors raise outside YAMLError: `!!int abc`, `!!timestamp 2020-13-45`,
# an integer of 5,000 digits (ValueError), the pure-Python composer on deep input (RecursionError).
_CONSTRUCTOR_ERRORS = (ValueError, TypeError, OverflowError, RecursionError)


def _shape_error(error: BaseException) -> DocumentShapeError:
    if isinstance(error, DocumentShapeError):
        return error
    if isinstance(error, RecursionError):
        return DocumentShapeError(f"nested deeper than {MAX_DEPTH} levels")
    return DocumentShapeError(f"a value that cannot be read: {error}")


def describe_yaml_error(error: yaml.YAMLError) -> str:
    """A one-line description with the line and column where PyYAML noticed the problem."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if mark is not None:
        return f"line {mark.line + 1} column {mark.column + 1}: {problem}"
    return str(problem)
