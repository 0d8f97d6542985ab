"""The matrix generator: every combination of its children's parameter sets.

Each child after the first is interpolated with the combined parameters of the children before it,
so a git generator can read the revision a list element names. Argo CD stops at two children and
two levels of nesting; fleet takes any number of children at any depth, and with two children it
renders exactly what Argo CD renders. Combining: in the default mode a key present in both sets
must hold the same value; in goTemplate mode maps merge deeply and earlier children win.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from generators.base import ParamSet
from generators.errors import InvalidApplicationSetError
from generators.fields import optional_list, reject_unknown
from generators.merging import combine_string_maps, merge_override

if TYPE_CHECKING:
    from generators.evaluate import Evaluation

_FIELDS = frozenset({"generators", "template"})


def child_entries(spec: Mapping[str, Any], path: str, kind: str) -> list[Any]:
    """The `generators` of a matrix or merge, validated as nested entries (at least two)."""
    from generators.evaluate import validate_entry

    children = optional_list(spec, "generators", path)
    if len(children) < 2:
        raise InvalidApplicationSetError(
            f"{path}.generators", f"a {kind} generator needs at least two generators"
        )
    for index, child in enumerate(children):
        validate_entry(child, f"{path}.generators[{index}]", nested=True)
    return children


class MatrixGenerator:
    kind = "matrix"

    def validate(self, spec: Mapping[str, Any], path: str) -> None:
        reject_unknown(spec, _FIELDS, path)
        child_entries(spec, path, self.kind)

    def generate(self, spec: Mapping[str, Any], path: str, run: Evaluation) -> list[ParamSet]:
        children = optional_list(spec, "generators", path)
        budget = run.budget
        combined: list[ParamSet] = [{}]
        for index, child in enumerate(children):
            child_path = f"{path}.generators[{index}]"
            next_combined: list[ParamSet] = []
            for params in combined:
                budget.check_time(child_path)
                for child_params in run.evaluate(child, child_path, parent=params):
                    next_combined.append(_combine(params, child_params, run.go_template))
                # A product grows faster than any one child: bound it while it is built.
                budget.check_parameter_sets(len(next_combined), path)
            combined = next_combined
        return combined


def _combine(earlier: ParamSet, later: ParamSet, go_template: bool) -> ParamSet:
    if not earlier:
        return dict(later)
    if go_template:
        return merge_override(later, earlier)
    return combine_string_maps(earlier, later)
