"""One expansion of one ApplicationSet: generator dispatch, interpolation, selectors, caching.

This is Argo CD's `Transform`: pick the generator named in an entry, interpolate the entry with the
parent's parameters (matrix children after the first), generate, then keep the parameter sets the
entry's `selector` matches. An `Evaluation` lives for one expansion, so its caches never serve a
stale cluster list or revision.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from generators import limits
from generators.base import Environment, Generator, ParamSet
from generators.errors import InvalidApplicationSetError
from generators.fields import expect_mapping, type_name
from generators.govalue import flat_strings
from generators.selector import LabelSelector, parse_selector
from generators.templating import Engine, StringRender
from generators.templating.tree import TreeRender, compile_tree

if TYPE_CHECKING:
    from generators.model import ApplicationSet

# Argo CD's field order in ApplicationSetGenerator: an entry naming several kinds yields them so.
SUPPORTED_KINDS = ("list", "clusters", "git", "matrix", "merge")
ARGO_ONLY_KINDS = ("scmProvider", "clusterDecisionResource", "pullRequest", "plugin")


def entry_kinds(entry: Mapping[str, Any], path: str) -> list[str]:
    """The generator kinds one `generators[]` entry names, refusing unknown or unsupported ones."""
    kinds: list[str] = []
    for key in entry:
        if key == "selector":
            continue
        if key in ARGO_ONLY_KINDS:
            raise InvalidApplicationSetError(
                f"{path}.{key}",
                f"the {key} generator is not supported by fleet "
                f"(supported: {', '.join(SUPPORTED_KINDS)})",
            )
        if key not in SUPPORTED_KINDS:
            raise InvalidApplicationSetError(
                f"{path}.{key}",
                f"unknown generator (expected one of: {', '.join(SUPPORTED_KINDS)})",
            )
        kinds.append(key)
    if not kinds:
        raise InvalidApplicationSetError(
            path, f"no generator given (expected one of: {', '.join(SUPPORTED_KINDS)})"
        )
    return sorted(kinds, key=SUPPORTED_KINDS.index)


def generator_for(kind: str) -> Generator:
    from generators.registry import GENERATORS

    return GENERATORS[kind]


def validate_entry(entry: Any, path: str, *, nested: bool) -> None:
    """Check one `generators[]` entry and, through its generator, everything below it."""
    entry = expect_mapping(entry, path)
    kinds = entry_kinds(entry, path)
    if nested and len(kinds) > 1:
        raise InvalidApplicationSetError(
            path, f"a nested generator names one kind, found {', '.join(kinds)}"
        )
    parse_selector(entry.get("selector"), f"{path}.selector")
    for kind in kinds:
        spec = entry[kind]
        if not isinstance(spec, Mapping):
            raise InvalidApplicationSetError(
                f"{path}.{kind}", f"expected a mapping, got {type_name(spec)}"
            )
        generator_for(kind).validate(spec, f"{path}.{kind}")


class Evaluation:
    def __init__(self, appset: ApplicationSet, env: Environment, engine: Engine) -> None:
        self.appset = appset
        self.env = env
        self.engine = engine
        self.go_template = appset.go_template
        self.warnings: list[str] = []
        self.budget = limits.current() or limits.Budget()
        """The running expansion's limits: generators check its deadline and sizes."""
        self._strings: dict[tuple[str, str], StringRender | None] = {}
        self._trees: dict[int, tuple[Any, TreeRender]] = {}
        self._memo: dict[str, list[ParamSet]] = {}

    # -- templating helpers for generators -------------------------------------------------

    def render_string(self, source: str, params: Mapping[str, Any], field: str) -> str:
        """Argo CD's `Render.Replace`: one string, no empty-params shortcut."""
        key = (source, field)
        if key not in self._strings:
            self._strings[key] = self.engine.compile(source, field)
        render = self._strings[key]
        return source if render is None else render(params)

    def with_values(self, values: Mapping[str, str], params: ParamSet, path: str) -> ParamSet:
        """A generator's `values`, templated with its own parameters, added as `values.*`.

        All values are rendered before any is added, so a value cannot see another value. A new
        map is returned: a parameter map is never changed after a template has read it.
        """
        if not values:
            return params
        rendered = {
            key: self.render_string(value, params, f"{path}.values.{key}")
            for key, value in values.items()
        }
        if self.go_template:
            return {**params, "values": rendered}
        return {**params, **{f"values.{key}": value for key, value in rendered.items()}}

    def interpolate(self, node: Any, params: Mapping[str, Any], path: str) -> Any:
        """Render every string of `node` with `params` (matrix child interpolation)."""
        cached = self._trees.get(id(node))
        if cached is None or cached[0] is not node:
            cached = (node, compile_tree(node, self.engine, path))
            self._trees[id(node)] = cached
        return cached[1](params)

    # -- dispatch ---------------------------------------------------------------------------

    def evaluate(
        self,
        entry: Mapping[str, Any],
        path: str,
        *,
        parent: Mapping[str, Any] | None = None,
        kind: str | None = None,
    ) -> list[ParamSet]:
        """Parameter sets of one entry (of the named kind), after interpolation and selector."""
        if parent:
            entry = self.interpolate(entry, parent, path)
        kind = kind or entry_kinds(entry, path)[0]
        memo_key = json.dumps([path, kind, entry], sort_keys=True, default=str)
        cached = self._memo.get(memo_key)
        if cached is not None:
            return cached
        self.budget.check_time(f"{path}.{kind}")
        params = generator_for(kind).generate(entry[kind], f"{path}.{kind}", self)
        self.budget.check_parameter_sets(len(params), f"{path}.{kind}")
        selector = self._selector(entry, path)
        if selector is not None:
            params = [p for p in params if selector.matches(flat_strings(p))]
        self._memo[memo_key] = params
        return params

    def _selector(self, entry: Mapping[str, Any], path: str) -> LabelSelector | None:
        raw = entry.get("selector")
        if raw is None:
            return None
        # spec.generators[0] is at depth 1, a matrix child at 2, a child of a nested matrix at 3.
        depth = path.count(".generators[")
        if depth >= 3 and not self.appset.apply_nested_selectors:
            # Argo CD ignores selectors below a nested matrix/merge unless asked to apply them.
            self.warnings.append(
                f"{path}.selector is ignored: set spec.applyNestedSelectors to apply it"
            )
            return None
        return parse_selector(raw, f"{path}.selector")
