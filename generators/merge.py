"""The merge generator: the first child's parameter sets, overridden by matching sets of the others.

Sets match when they agree on every key in `mergeKeys`; sets of later children without a match
are dropped, and later children win over earlier ones. Within one child the merge keys must be
unique. In goTemplate mode a merge key may name a nested value with dots (`values.env`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from generators.base import ParamSet
from generators.errors import GeneratorError, InvalidApplicationSetError
from generators.fields import expect_str, optional_list, reject_unknown
from generators.matrix import child_entries
from generators.merging import combine_allow_duplicates, merge_override

if TYPE_CHECKING:
    from generators.evaluate import Evaluation

_FIELDS = frozenset({"generators", "mergeKeys", "template"})
_MISSING = object()


class MergeGenerator:
    kind = "merge"

    def validate(self, spec: Mapping[str, Any], path: str) -> None:
        reject_unknown(spec, _FIELDS, path)
        child_entries(spec, path, self.kind)
        _merge_keys(spec, path)

    def generate(self, spec: Mapping[str, Any], path: str, run: Evaluation) -> list[ParamSet]:
        keys = _merge_keys(spec, path)
        children = optional_list(spec, "generators", path)
        base: dict[str, ParamSet] = {}
        for index, child in enumerate(children):
            child_path = f"{path}.generators[{index}]"
            by_key = _index_by_merge_key(run.evaluate(child, child_path), keys, child_path)
            if index == 0:
                base = by_key
                continue
            for key, base_params in base.items():
                override = by_key.get(key)
                if override is None:
                    continue
                if run.go_template:
                    base[key] = merge_override(base_params, override)
                else:
                    base[key] = combine_allow_duplicates(base_params, override)
        return list(base.values())


def _merge_keys(spec: Mapping[str, Any], path: str) -> list[str]:
    keys = [
        expect_str(k, f"{path}.mergeKeys[{i}]")
        for i, k in enumerate(optional_list(spec, "mergeKeys", path))
    ]
    if not keys:
        raise InvalidApplicationSetError(
            f"{path}.mergeKeys", "no merge keys were specified, merge requires at least one"
        )
    return sorted(set(keys))


def _index_by_merge_key(params: list[ParamSet], keys: list[str], path: str) -> dict[str, ParamSet]:
    indexed: dict[str, ParamSet] = {}
    for param_set in params:
        key = json.dumps({k: _canonical(_lookup(param_set, k)) for k in keys}, sort_keys=True)
        if key in indexed:
            raise GeneratorError(
                f"{path}: the parameter sets are not unique by the merge keys; duplicate key {key}"
            )
        indexed[key] = param_set
    return indexed


def _lookup(params: Mapping[str, Any], key: str) -> Any:
    if key in params:
        return params[key]
    node: Any = params
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _canonical(value: Any) -> Any:
    """Numbers compare as Go float64s do after encoding/json, whatever YAML made of them."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value
