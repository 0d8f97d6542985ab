"""Resource hooks, read as Argo CD reads them: which phase a manifest runs in, how it is named,
when it is deleted and when it has finished.

A hook is a manifest annotated `argocd.argoproj.io/hook` (a comma list of PreSync, Sync,
PostSync, SyncFail; PreDelete and PostDelete are recognised but never run by a sync), or, when
that annotation is absent, a Helm hook (`helm.sh/hook`): pre-install and pre-upgrade run as
PreSync, post-install and post-upgrade as PostSync; any other Helm hook (test, pre-delete,
post-delete, pre-rollback, post-rollback) is a hook of no phase a sync runs, so it is never
applied, and `crd-install` is no hook at all (the CRD is an ordinary resource). Argo CD's
annotation wins over Helm's: with both, the Helm one is ignored.

`Skip` alone means "never apply this manifest"; combined with a phase it is ignored.

Hooks are not part of the desired state: they never make an Application OutOfSync, are never
pruned, and do not count towards its health. They run during a sync, in the waves of their phase
(`argocd.argoproj.io/sync-wave`, else `helm.sh/hook-weight`), and each wave waits until its
hooks have finished.

Pure functions only: the engine (`fleet.sync.hookrun`) does the I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fleet.sync import appraise

HOOK = "argocd.argoproj.io/hook"
HOOK_DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy"
HELM_HOOK = "helm.sh/hook"
HELM_DELETE_POLICY = "helm.sh/hook-delete-policy"
HELM_WEIGHT = "helm.sh/hook-weight"

PRE_SYNC, SYNC, POST_SYNC, SYNC_FAIL, SKIP = "PreSync", "Sync", "PostSync", "SyncFail", "Skip"
PRE_DELETE, POST_DELETE = "PreDelete", "PostDelete"
TYPES = (PRE_SYNC, SYNC, POST_SYNC, SYNC_FAIL, SKIP, PRE_DELETE, POST_DELETE)
SYNC_PHASES = (PRE_SYNC, SYNC, POST_SYNC)
"""The phases of a successful sync, in order; SyncFail runs only when one of them fails."""

BEFORE_HOOK_CREATION = "BeforeHookCreation"
HOOK_SUCCEEDED = "HookSucceeded"
HOOK_FAILED = "HookFailed"
DELETE_POLICIES = (BEFORE_HOOK_CREATION, HOOK_SUCCEEDED, HOOK_FAILED)

_HELM_TYPES = {
    "pre-install": PRE_SYNC,
    "pre-upgrade": PRE_SYNC,
    "post-install": POST_SYNC,
    "post-upgrade": POST_SYNC,
}
_HELM_POLICIES = {
    "before-hook-creation": BEFORE_HOOK_CREATION,
    "hook-succeeded": HOOK_SUCCEEDED,
    "hook-failed": HOOK_FAILED,
}
_HELM_NOT_A_HOOK = "crd-install"

# Hook phases as `operationState.syncResult.resources[].hookPhase` spells them.
RUNNING, SUCCEEDED, FAILED = "Running", "Succeeded", "Failed"

Obj = Mapping[str, Any]


def _annotations(obj: Obj) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    return annotations if isinstance(annotations, Mapping) else {}


def _csv(obj: Obj, key: str) -> list[str]:
    raw = _annotations(obj).get(key)
    if raw is None:
        return []
    return [part.strip() for part in str(raw).split(",") if part.strip()]


def types(obj: Obj) -> list[str]:
    """The hook types of a manifest (Argo CD's annotation, else Helm's mapped), in order.

    Unknown words are ignored, as Argo CD ignores them."""
    found = [t for t in _csv(obj, HOOK) if t in TYPES]
    if found:
        return list(dict.fromkeys(found))
    mapped = [_HELM_TYPES[t] for t in _csv(obj, HELM_HOOK) if t in _HELM_TYPES]
    return list(dict.fromkeys(mapped))


def is_skipped(obj: Obj) -> bool:
    """`argocd.argoproj.io/hook: Skip` alone: the manifest is never applied."""
    return types(obj) == [SKIP]


def is_hook(obj: Obj) -> bool:
    """A hook (never compared, never pruned), as opposed to an ordinary resource.

    Any `argocd.argoproj.io/hook` annotation makes one (but `Skip` alone); a `helm.sh/hook`
    annotation does too, except `crd-install` (Helm's pre-hook way of installing CRDs, which Argo
    CD treats as ordinary resources). A hook whose types name no phase a sync runs (Helm's
    `test`, Argo CD's PostDelete) is a hook that a sync never applies."""
    annotations = _annotations(obj)
    if HOOK in annotations:
        return not is_skipped(obj)
    if HELM_HOOK in annotations:
        return str(annotations.get(HELM_HOOK) or "").strip() != _HELM_NOT_A_HOOK
    return False


def has_hooks(manifests: Iterable[Obj]) -> bool:
    """Whether any manifest is a hook (a sync of these manifests would run something)."""
    return any(is_hook(obj) for obj in manifests)


def phases(obj: Obj) -> list[str]:
    """The sync phases a hook runs in (PreSync, Sync, PostSync, SyncFail), in that order."""
    found = set(types(obj))
    return [p for p in (*SYNC_PHASES, SYNC_FAIL) if p in found]


def delete_policies(obj: Obj) -> frozenset[str]:
    """Argo CD's and Helm's delete policies together; BeforeHookCreation when none is set."""
    found = {p for p in _csv(obj, HOOK_DELETE_POLICY) if p in DELETE_POLICIES}
    found |= {_HELM_POLICIES[p] for p in _csv(obj, HELM_DELETE_POLICY) if p in _HELM_POLICIES}
    return frozenset(found or {BEFORE_HOOK_CREATION})


def generated_name(generate_name: str, revision: str, phase: str, started_unix: int) -> str:
    """The name of a `generateName` hook in one sync, by Argo CD's rule: the prefix, then the
    revision's first 7 characters (all of it when shorter than 8), the phase and the operation's
    start in Unix seconds, lower case. Deterministic, so a re-run of the same operation finds the
    hook it created instead of creating another."""
    short = revision[:7] if len(revision) >= 8 else revision
    return f"{generate_name}{short}-{phase}-{started_unix}".lower()


@dataclass(frozen=True)
class Progress:
    """Where a live hook is: Running, Succeeded or Failed, with the reason."""

    phase: str
    message: str = ""

    @property
    def finished(self) -> bool:
        return self.phase != RUNNING


def progress(live: Obj | None) -> Progress:
    """A hook's phase from its live object, through the health rules (fleet.sync.health):
    a Job is done when Complete or Failed, a Pod when Succeeded or Failed, an Argo Workflow when
    it Succeeded, Failed or Errored; any other kind when Healthy (Degraded fails it), and a kind
    without health rules as soon as it exists."""
    if live is None:
        return Progress(RUNNING, "waiting for the hook to be created")
    health = appraise.assess(dict(live))
    if health is None or health.status == "Healthy":
        return Progress(SUCCEEDED, health.message if health else "")
    if health.status == "Degraded":
        return Progress(FAILED, health.message or "Degraded")
    return Progress(RUNNING, health.message)
