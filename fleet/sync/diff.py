"""Drift: the server's dry-run apply result compared with the live object.

Why a dry-run: the API server fills in defaults and keeps other managers' fields, so comparing
its answer with live shows only changes fleet's apply would really make (no false drift from
defaulting, from a controller's fields or from `kubectl label` of an unrelated field). Volatile
metadata (resourceVersion, generation, managedFields, timestamps) and `status` are not compared.
Ignore rules are stripped from both sides first.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from fleet.sync.ignore import IgnoreRule, apply_rules

Obj = dict[str, Any]
_VOLATILE_META = (
    "resourceVersion",
    "generation",
    "managedFields",
    "creationTimestamp",
    "uid",
    "selfLink",
)


def normalize(obj: Obj, rules: Sequence[IgnoreRule] = (), live: Obj | None = None) -> Obj:
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata") or {}
    for key in _VOLATILE_META:
        meta.pop(key, None)
    if not meta.get("annotations"):
        meta.pop("annotations", None)
    if not meta.get("labels"):
        meta.pop("labels", None)
    apply_rules(out, rules, live)
    return out


def differs(predicted: Obj, live: Obj | None, rules: Sequence[IgnoreRule] = ()) -> bool:
    """True if applying would change `live` (missing live always differs)."""
    if live is None:
        return True
    return normalize(predicted, rules, live) != normalize(live, rules, live)


def changed_paths(predicted: Obj, live: Obj, rules: Sequence[IgnoreRule] = ()) -> list[str]:
    """Top-level-ish paths that differ, for messages (`spec.replicas`, `data.key`)."""
    out: list[str] = []

    def walk(a: Any, b: Any, path: str, depth: int) -> None:
        if a == b:
            return
        if depth < 3 and isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                walk(a.get(key), b.get(key), f"{path}.{key}" if path else key, depth + 1)
        else:
            out.append(path or ".")

    walk(normalize(predicted, rules, live), normalize(live, rules, live), "", 0)
    return out
