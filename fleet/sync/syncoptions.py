"""Argo CD's sync options: which ones fleet honours, which it refuses, and their small rules.

Why one table: Argo CD documents a fixed set of `Name=value` options (Application
`spec.syncPolicy.syncOptions` and the `argocd.argoproj.io/sync-options` annotation). A value
fleet cannot honour must never be ignored silently (a user relying on `Prune=confirm` would
lose a Namespace), so each documented option is either honoured here and in the engine, or
refused with a message naming it, and so is an unknown or misspelt one.

Honoured, and how (fleet always applies server-side with force-conflicts):
- Prune=true|false (resource overrides Application), Delete=true|false (kept on Application
  deletion), Validate, Replace, CreateNamespace (+ managedNamespaceMetadata),
  PrunePropagationPolicy=foreground|background|orphan, FailOnSharedResource,
  RespectIgnoreDifferences (see `respect_ignored`);
- already fleet's behaviour: ApplyOutOfSyncOnly (only objects that differ are written),
  PruneLast (pruning always follows the last wave), SkipDryRunOnMissingResource (an unknown
  kind never fails at comparison; its apply waits for the CRD), ServerSideApply=true|false
  (always server-side), ClientSideApplyMigration=true (a forced server-side apply takes the
  fields fleet sets from a client-side manager).
Refused: Prune=confirm, Delete=confirm (no confirmation workflow), Force=true (delete and
recreate), ClientSideApplyMigration=false (fleet cannot leave the fields with their manager).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fleet.sync.ignore import IgnoreRule
from fleet.sync.tracking import ANNOTATION, SYNC_OPTIONS, AppRef, options, tracking_id

Obj = dict[str, Any]

_BOOL = frozenset({"true", "false"})
HONOURED: Mapping[str, frozenset[str]] = {
    "Prune": _BOOL,
    "Delete": _BOOL,
    "Validate": _BOOL,
    "SkipDryRunOnMissingResource": _BOOL,
    "ApplyOutOfSyncOnly": _BOOL,
    "PrunePropagationPolicy": frozenset({"foreground", "background", "orphan"}),
    "PruneLast": _BOOL,
    "Replace": _BOOL,
    "Force": frozenset({"false"}),
    "ServerSideApply": _BOOL,
    "ClientSideApplyMigration": frozenset({"true"}),
    "FailOnSharedResource": _BOOL,
    "RespectIgnoreDifferences": _BOOL,
    "CreateNamespace": _BOOL,
}
REFUSED: Mapping[str, str] = {
    "Prune=confirm": "fleet has no prune confirmation; use Prune=false to keep the resource",
    "Delete=confirm": "fleet has no deletion confirmation; use Delete=false to keep the resource",
    "Force=true": "fleet does not delete and recreate resources; remove it (Replace=true "
    "replaces in place)",
    "ClientSideApplyMigration=false": "fleet always applies server-side with force-conflicts, "
    "which takes the fields it sets from a client-side manager",
}
ARGO_TRACKING = "argocd.argoproj.io/tracking-id"


def problem(option: str) -> str | None:
    """Why fleet refuses `option` (one `Name=value`), or None when it honours it."""
    name, sep, value = option.strip().partition("=")
    if option.strip() in REFUSED:
        return f"{option.strip()} is not supported: {REFUSED[option.strip()]}"
    allowed = HONOURED.get(name)
    if not sep or allowed is None:
        known = ", ".join(sorted(HONOURED))
        return f"{option!r} is not a sync option Argo CD documents (known: {known})"
    wanted = value.lower() if name == "PrunePropagationPolicy" else value
    if wanted not in allowed:
        return f"{option!r}: expected {name}={'|'.join(sorted(allowed))}"
    return None


def problems(values: Iterable[str], where: str) -> list[str]:
    """Every refused option of `values`, each naming `where` (a field or an object)."""
    out = []
    for index, value in enumerate(values):
        found = problem(str(value))
        if found is not None:
            out.append(f"{where}[{index}]: {found}")
    return out


def manifest_problems(manifests: Sequence[Obj]) -> list[str]:
    """Refused `argocd.argoproj.io/sync-options` annotations, naming the object."""
    out = []
    for obj in manifests:
        values = sorted(options(obj, SYNC_OPTIONS))
        meta = obj.get("metadata") or {}
        where = f"{obj.get('kind', '')}/{meta.get('name', '')} annotation {SYNC_OPTIONS}"
        for value in values:
            found = problem(value)
            if found is not None:
                out.append(f"{where}: {found}")
    return out


def _setting(live: Obj, app_options: Iterable[str], name: str) -> str | None:
    """The value of option `name` for one object: its annotation first, then the
    Application's (Argo CD: a resource's option overrides the Application's)."""
    for source in (options(live, SYNC_OPTIONS), app_options):
        for option in source:
            key, _, value = str(option).partition("=")
            if key.strip() == name:
                return value.strip()
    return None


def keeps(live: Obj, app_options: Iterable[str], *, deleting: bool = False) -> str | None:
    """Why `live` must not be deleted ("Prune=false", "Delete=false"), or None.

    Pruning honours Prune=false; deleting the Application honours Delete=false and, as fleet
    always has, Prune=false on the object itself."""
    app_options = list(app_options)
    if deleting:
        if _setting(live, app_options, "Delete") == "false":
            return "Delete=false"
        return "Prune=false" if "Prune=false" in options(live, SYNC_OPTIONS) else None
    return "Prune=false" if _setting(live, app_options, "Prune") == "false" else None


def shared_owner(app: AppRef, live: Obj | None) -> str | None:
    """Another Application that `live` is part of (its tracking annotation, fleet's or Argo
    CD's, names it), for FailOnSharedResource; None when it is this one's or nobody's."""
    if live is None:
        return None
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    mine = tracking_id(app, live)
    fleet_id = annotations.get(ANNOTATION)
    if isinstance(fleet_id, str) and fleet_id and fleet_id != mine:
        return fleet_id.partition(":")[0]
    argo_id = annotations.get(ARGO_TRACKING)
    if isinstance(argo_id, str) and argo_id:
        owner = argo_id.partition(":")[0]
        if owner not in (app.name, f"{app.namespace}_{app.name}"):
            return owner
    return None


def _tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.lstrip("/").split("/")]


_MISSING = object()


def _get(node: Any, tokens: Sequence[str]) -> Any:
    for token in tokens:
        if isinstance(node, dict):
            node = node.get(token, _MISSING)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return _MISSING
        if node is _MISSING:
            return _MISSING
    return node


def _put(node: Any, tokens: Sequence[str], value: Any) -> None:
    """Set (or with _MISSING delete) the value at `tokens`; a missing parent is created only
    for a value to set, never for a deletion."""
    for token in tokens[:-1]:
        if isinstance(node, dict):
            if token not in node:
                if value is _MISSING:
                    return
                node[token] = {}
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return
    last = tokens[-1]
    if isinstance(node, dict):
        if value is _MISSING:
            node.pop(last, None)
        else:
            node[last] = value
    elif (
        isinstance(node, list)
        and last.isdigit()
        and int(last) < len(node)
        and value is not _MISSING
    ):
        node[int(last)] = value


def respect_ignored(desired: Obj, live: Obj | None, rules: Sequence[IgnoreRule]) -> Obj:
    """`desired` with every ignoreDifferences JSON pointer set to the live value (or left out
    where live has none), so an apply never undoes what the rules say belongs to someone else
    (an HPA's `/spec/replicas`).

    Why by default: Argo CD's default client-side apply merges three ways, so a field it
    ignores and Git does not change is left as the cluster has it; fleet applies server-side,
    where the desired value would win. `RespectIgnoreDifferences=false` on the object applies
    the desired state as it is. A new object (no live) is applied as it is, as in Argo CD.
    """
    if live is None or not rules:
        return desired
    if "RespectIgnoreDifferences=false" in options(desired, SYNC_OPTIONS):
        return desired
    out: Obj | None = None
    for rule in rules:
        if not rule.matches(desired):
            continue
        for pointer in rule.json_pointers:
            tokens = _tokens(pointer)
            if not tokens or tokens[0] in ("metadata", "apiVersion", "kind"):
                continue
            value = _get(live, tokens)
            if out is None:
                out = copy.deepcopy(desired)
            _put(out, tokens, copy.deepcopy(value) if value is not _MISSING else _MISSING)
    return out if out is not None else desired
