"""The merge rules Argo CD applies to templates and parameter sets, as functions over plain data.

Argo CD does these with `mergo` on Go structs and with Kubernetes' strategic merge patch; the rules
below reproduce their observable results on JSON-like data.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from generators.errors import GeneratorError
from generators.govalue import go_sprint


def is_empty(value: Any) -> bool:
    """Go's zero value test as mergo uses it: "", 0, false, nil, and empty maps and lists."""
    if value is None or value is False:
        return True
    if isinstance(value, str | list | dict):
        return len(value) == 0
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value == 0
    return False


def fill_empty(dst: Any, src: Any) -> Any:
    """`mergo.Merge(dst, src)` without override: `src` only fills what `dst` leaves empty.

    How a generator-level `template` combines with `spec.template`: the generator's non-empty
    fields win, at any depth. (A `false` or `0` counts as empty, as in Argo CD.)
    """
    if isinstance(dst, Mapping) and isinstance(src, Mapping):
        merged = dict(dst)
        for key, value in src.items():
            if key in merged and not is_empty(merged[key]):
                merged[key] = fill_empty(merged[key], value)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    return src if is_empty(dst) else dst


def merge_override(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`mergo.Merge(&base, override, mergo.WithOverride)` on parameter maps (goTemplate mode).

    Nested maps merge key by key; any other value in `override` replaces the base value.
    """
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping) and current:
            merged[key] = merge_override(current, value)
        else:
            merged[key] = value
    return merged


def combine_string_maps(first: Mapping[str, Any], second: Mapping[str, Any]) -> dict[str, Any]:
    """Argo CD's `CombineStringMaps` (default-mode matrix): the same key must agree in both."""
    combined = {k: v if v.__class__ is str else go_sprint(v) for k, v in first.items()}
    for key, value in second.items():
        text = value if value.__class__ is str else go_sprint(value)
        existing = combined.get(key)
        if existing is not None and existing != text:
            raise GeneratorError(
                f"found duplicate key {key} with different value, a: {existing} ,b: {text}"
            )
        combined[key] = text
    return combined


def combine_allow_duplicates(
    base: Mapping[str, Any], override: Mapping[str, Any]
) -> dict[str, Any]:
    """Argo CD's `CombineStringMapsAllowDuplicates` (default-mode merge): override wins."""
    combined = {key: go_sprint(value) for key, value in base.items()}
    combined.update((key, go_sprint(value)) for key, value in override.items())
    return combined


_MERGE_LISTS = {("metadata", "finalizers")}
"""Application list fields whose strategic-merge strategy is "merge" (ObjectMeta.finalizers)."""


def strategic_merge(original: Any, patch: Any, path: tuple[str, ...] = ()) -> Any:
    """A strategic merge patch onto an Application (what `templatePatch` does in Argo CD).

    Maps merge recursively and a null deletes a key; lists are replaced, except
    `metadata.finalizers`, whose entries are added to the existing ones.
    """
    if isinstance(original, Mapping) and isinstance(patch, Mapping):
        merged = dict(original)
        for key, value in patch.items():
            child = (*path, str(key))
            if value is None:
                merged.pop(key, None)
            elif child in _MERGE_LISTS and isinstance(value, list):
                existing = list(merged.get(key) or [])
                merged[key] = existing + [item for item in value if item not in existing]
            else:
                merged[key] = strategic_merge(merged.get(key), value, child)
        return merged
    return copy.deepcopy(patch)
