"""What reconciling one ApplicationSet would do: the pure part, shared by the controller and
`fleet appset diff`.

Why pure: the decisions that can lose workloads (what to delete, what to hold back, what an
update overwrites) must be testable without a cluster and printable before a merge. The rules
follow Argo CD's ApplicationSet controller (`createOrUpdateInCluster`, `deleteInCluster`,
applicationsSync policies, preservedFields, ignoreApplicationDifferences) plus fleet's safety
rules: an incomplete expansion deletes nothing ("frozen"), and deletions beyond the budget are
held for a later window.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

POLICIES = ("create-only", "create-update", "create-delete", "sync")
DEFAULT_POLICY = "sync"

DEFAULT_PRESERVED_ANNOTATIONS = (
    "notified.notifications.argoproj.io",
    "argocd.argoproj.io/refresh",
    "argocd.argoproj.io/hydrate",
)
"""Argo CD's `defaultPreservedAnnotations`: written by other controllers, never overwritten."""

POST_DELETE_FINALIZER_PREFIX = "post-delete-finalizer.argocd.argoproj.io"

App = dict[str, Any]


class PlanError(ValueError):
    """The policy or difference rules are not usable; the message names the field."""


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str
    """JSON path of the changed field, e.g. `spec.source.targetRevision`."""
    old: Any
    new: Any
    """`None` for an absent value (added or removed field)."""


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    """One `spec.ignoreApplicationDifferences` entry: pointers kept from the live Application."""

    name: str = ""
    json_pointers: tuple[str, ...] = ()
    jq_path_expressions: tuple[str, ...] = ()

    def matches(self, app_name: str) -> bool:
        return not self.name or self.name == app_name


@dataclass
class Plan:
    create: list[App] = field(default_factory=list)
    update: list[tuple[App, list[FieldChange]]] = field(default_factory=list)
    """The object to write (the live one with Argo CD's update applied) and what changes."""
    delete: list[App] = field(default_factory=list)
    held: list[App] = field(default_factory=list)
    """Deletions beyond the budget: done in a later window."""
    frozen: list[App] = field(default_factory=list)
    """Deletions not done because the expansion is incomplete."""
    unchanged: list[App] = field(default_factory=list)
    skipped: list[tuple[App, str]] = field(default_factory=list)
    """Updates or deletions the policy forbids (or an unsupported ignore rule), with why."""
    deleting: list[App] = field(default_factory=list)
    """Already being deleted (deletionTimestamp set, finalizers pending): nothing to do now;
    a generated one is created again once it is gone."""

    @property
    def changes(self) -> bool:
        return bool(self.create or self.update or self.delete)


def effective_policy(
    appset_policy: str | None, controller_policy: str, allow_override: bool
) -> str:
    """Argo CD's `--policy` / `--enable-policy-override`: the ApplicationSet's own
    `spec.syncPolicy.applicationsSync` wins only when overriding is allowed."""
    for value, where in (
        (controller_policy, "controller policy"),
        (appset_policy, "spec.syncPolicy.applicationsSync"),
    ):
        if value is not None and value not in POLICIES:
            raise PlanError(f"{where}: {value!r} is not one of {', '.join(POLICIES)}")
    if appset_policy and allow_override:
        return appset_policy
    return controller_policy


def ignore_rules(raw: Any, path: str = "spec.ignoreApplicationDifferences") -> list[IgnoreRule]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise PlanError(f"{path}: expected a list")
    rules: list[IgnoreRule] = []
    for index, entry in enumerate(raw):
        where = f"{path}[{index}]"
        if not isinstance(entry, Mapping):
            raise PlanError(f"{where}: expected a mapping")
        pointers = entry.get("jsonPointers") or []
        jq = entry.get("jqPathExpressions") or []
        if not isinstance(pointers, list) or not all(isinstance(p, str) for p in pointers):
            raise PlanError(f"{where}.jsonPointers: expected a list of strings")
        if not isinstance(jq, list) or not all(isinstance(p, str) for p in jq):
            raise PlanError(f"{where}.jqPathExpressions: expected a list of strings")
        for pointer in pointers:
            if pointer and not pointer.startswith("/"):
                raise PlanError(f"{where}.jsonPointers: {pointer!r} must start with '/'")
        rules.append(IgnoreRule(str(entry.get("name") or ""), tuple(pointers), tuple(jq)))
    return rules


def _name(app: Mapping[str, Any]) -> str:
    return str((app.get("metadata") or {}).get("name") or "")


# -- JSON pointers ---------------------------------------------------------------------------


def _tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


_MISSING = object()


def _get(doc: Any, tokens: Sequence[str]) -> Any:
    for token in tokens:
        if isinstance(doc, Mapping) and token in doc:
            doc = doc[token]
        elif isinstance(doc, list) and token.isdigit() and int(token) < len(doc):
            doc = doc[int(token)]
        else:
            return _MISSING
    return doc


def _set(doc: Any, tokens: Sequence[str], value: Any) -> None:
    for token in tokens[:-1]:
        if isinstance(doc, dict):
            doc = doc.setdefault(token, {})
        elif isinstance(doc, list) and token.isdigit() and int(token) < len(doc):
            doc = doc[int(token)]
        else:
            return
    last = tokens[-1]
    if isinstance(doc, dict):
        doc[last] = copy.deepcopy(value)
    elif isinstance(doc, list) and last.isdigit() and int(last) < len(doc):
        doc[int(last)] = copy.deepcopy(value)


def _remove(doc: Any, tokens: Sequence[str]) -> None:
    parent = _get(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        parent.pop(last, None)
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        del parent[int(last)]


def apply_ignored(desired: App, live: Mapping[str, Any], pointers: Sequence[str]) -> App:
    """Argo CD's ignoreApplicationDifferences: at each pointer the generated Application takes the
    live value (or loses the field when the live one has none), so the update leaves it alone."""
    out = copy.deepcopy(desired)
    for pointer in pointers:
        tokens = _tokens(pointer)
        if not tokens:
            continue
        value = _get(live, tokens)
        if value is _MISSING:
            _remove(out, tokens)
        else:
            _set(out, tokens, value)
    return out


# -- update semantics ------------------------------------------------------------------------


_REBUILT_METADATA = frozenset({"annotations", "labels", "finalizers", "ownerReferences"})


def updated(
    desired: Mapping[str, Any],
    live: Mapping[str, Any],
    *,
    preserved_annotations: Sequence[str] = (),
    preserved_labels: Sequence[str] = (),
) -> App:
    """The live Application with Argo CD's update applied: spec replaced by the generated one;
    labels, annotations and finalizers the generated ones plus preserved keys from the live
    object; ownerReferences gain the generated owner; `operation` and `status` untouched."""
    # status is carried by reference, never copied: it is most of an Application's size, the
    # plan never changes it, and a PUT of the main resource ignores it anyway. spec and the
    # metadata rebuilt below are not copied either: they are replaced (an ApplicationSet
    # reconcile runs this for every Application it owns).
    out: App = {
        k: v if k == "status" else copy.deepcopy(v)
        for k, v in live.items()
        if k not in ("spec", "metadata")
    }
    gen_meta = desired.get("metadata") or {}
    live_meta = live.get("metadata") or {}
    meta = out["metadata"] = {
        k: copy.deepcopy(v) for k, v in live_meta.items() if k not in _REBUILT_METADATA
    }
    annotations = dict(gen_meta.get("annotations") or {})
    live_annotations = live_meta.get("annotations") or {}
    for key in (*DEFAULT_PRESERVED_ANNOTATIONS, *preserved_annotations):
        if key in live_annotations:
            annotations[key] = live_annotations[key]
    labels = dict(gen_meta.get("labels") or {})
    live_labels = live_meta.get("labels") or {}
    for key in preserved_labels:
        if key in live_labels:
            labels[key] = live_labels[key]
    finalizers = list(gen_meta.get("finalizers") or [])
    for finalizer in live_meta.get("finalizers") or []:
        if finalizer.startswith(POST_DELETE_FINALIZER_PREFIX) and finalizer not in finalizers:
            finalizers.append(finalizer)
    for key, value in (
        ("annotations", annotations),
        ("labels", labels),
        ("finalizers", finalizers),
    ):
        if value:
            meta[key] = value
        else:
            meta.pop(key, None)
    refs = copy.deepcopy(list(live_meta.get("ownerReferences") or []))
    for ref in gen_meta.get("ownerReferences") or []:
        if not any(r.get("uid") == ref.get("uid") for r in refs):
            refs.append(copy.deepcopy(ref))
    if refs:
        meta["ownerReferences"] = refs
    out["spec"] = copy.deepcopy(desired.get("spec") or {})
    return out


_COMPARED = (
    ("metadata", "labels"),
    ("metadata", "annotations"),
    ("metadata", "finalizers"),
    ("metadata", "ownerReferences"),
    ("spec",),
)


def field_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldChange]:
    """Changed fields between two Applications (labels, annotations, finalizers, owners, spec)."""
    changes: list[FieldChange] = []
    for keys in _COMPARED:
        a = _get(old, keys)
        b = _get(new, keys)
        _diff(None if a is _MISSING else a, None if b is _MISSING else b, ".".join(keys), changes)
    return changes


def _diff(old: Any, new: Any, path: str, out: list[FieldChange]) -> None:
    if old == new or (old in (None, {}, []) and new in (None, {}, [])):
        return
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in list(old) + [k for k in new if k not in old]:
            _diff(old.get(key), new.get(key), _join(path, str(key)), out)
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            _diff(a, b, f"{path}[{index}]", out)
        return
    out.append(FieldChange(path, old, new))


def _join(path: str, key: str) -> str:
    if key.replace("-", "").replace("_", "").isalnum():
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


# -- the plan --------------------------------------------------------------------------------


Unchanged = dict[str, tuple[App, tuple[Any, ...]]]
"""Application name -> (the generated document, the live fields `field_changes` compares) when
the plan last found it unchanged."""


def _compared(app: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(_get(app, keys) for keys in _COMPARED)


def _age_key(app: Mapping[str, Any]) -> tuple[str, str]:
    return (str((app.get("metadata") or {}).get("creationTimestamp") or ""), _name(app))


def plan(
    desired: Sequence[App],
    existing: Sequence[App],
    *,
    policy: str = DEFAULT_POLICY,
    complete: bool,
    budget: int,
    preserved_annotations: Sequence[str] = (),
    preserved_labels: Sequence[str] = (),
    ignore: Sequence[IgnoreRule] = (),
    unchanged: Unchanged | None = None,
) -> Plan:
    """Compare generated (`desired`) with the ApplicationSet's current Applications (`existing`).

    `complete` False (some generator failed) turns every deletion into `frozen`. `budget` is how
    many deletions may happen now; the rest, newest first, are `held` (oldest go first).

    `unchanged`, when given, is read and rewritten: an Application found unchanged last time,
    whose generated document is the same object (a reused expansion, so the same preserved keys
    and ignore rules) and whose compared live fields are equal, is unchanged without merging.
    Why: most reconciles come from Applications' status writes during a rollout, and merging
    every Application of a large ApplicationSet for each was most of the reconcile's CPU.
    """
    if policy not in POLICIES:
        raise PlanError(f"policy {policy!r} is not one of {', '.join(POLICIES)}")
    may_update = policy in ("create-update", "sync")
    may_delete = policy in ("create-delete", "sync")
    live_by_name = {_name(app): app for app in existing}
    result = Plan()
    before = dict(unchanged or {})
    if unchanged is not None:
        unchanged.clear()
    for app in desired:
        name = _name(app)
        live = live_by_name.get(name)
        if live is None:
            result.create.append(copy.deepcopy(app))
            continue
        if (live.get("metadata") or {}).get("deletionTimestamp"):
            result.deleting.append(live)
            continue
        seen = before.get(name)
        if seen is not None and seen[0] is app and seen[1] == _compared(live):
            result.unchanged.append(live)
            if unchanged is not None:
                unchanged[name] = seen
            continue
        rules = [rule for rule in ignore if rule.matches(name)]
        if any(rule.jq_path_expressions for rule in rules):
            result.skipped.append(
                (live, "spec.ignoreApplicationDifferences: jqPathExpressions are not supported")
            )
            continue
        pointers = [p for rule in rules for p in rule.json_pointers]
        wanted = apply_ignored(app, live, pointers) if pointers else app
        merged = updated(
            wanted,
            live,
            preserved_annotations=preserved_annotations,
            preserved_labels=preserved_labels,
        )
        changes = field_changes(live, merged)
        if not changes:
            result.unchanged.append(live)
            if unchanged is not None:
                unchanged[name] = (app, _compared(live))
        elif may_update:
            result.update.append((merged, changes))
        else:
            result.skipped.append((live, f"policy {policy} does not update Applications"))
    wanted_names = {_name(app) for app in desired}
    stale = sorted((app for app in existing if _name(app) not in wanted_names), key=_age_key)
    for app in stale:
        if (app.get("metadata") or {}).get("deletionTimestamp"):
            result.deleting.append(app)
        elif not may_delete:
            result.skipped.append((app, f"policy {policy} does not delete Applications"))
        elif not complete:
            result.frozen.append(app)
        elif len(result.delete) < max(0, budget):
            result.delete.append(app)
        else:
            result.held.append(app)
    return result


def deletion_budget(spec: str | None, current: int, default: str = "20%") -> int:
    """How many of `current` Applications may be deleted in one window.

    `spec` is `"N"` (a count) or `"P%"` (a share of the current Applications, rounded down but
    at least 1 when there is any Application, so a small ApplicationSet can still shrink).
    Raises PlanError naming the bad value.
    """
    text = (spec if spec is not None else default).strip()
    try:
        if text.endswith("%"):
            share = float(text[:-1])
            if not 0 <= share <= 100:
                raise ValueError
            count = int(current * share // 100)
            return max(count, 1) if current and share > 0 else count
        count = int(text)
        if count < 0:
            raise ValueError
        return count
    except ValueError:
        raise PlanError(
            f'deletion budget {text!r}: expected a count like "5" or a share like "20%"'
        ) from None
