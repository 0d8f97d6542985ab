"""The dashboard's writes, with the CLI's semantics (fleet.appcli.operation).

Sync and rollback set the Application's `operation` exactly as `fleet app sync` and
`fleet app rollback` do (refused while another operation runs, rollback refused under automated
sync or for an unknown history ID); the user recorded in `initiatedBy` is the one the hub's
TokenReview named, not the controller. Refresh sets Argo CD's `argocd.argoproj.io/refresh`
annotation (and a fleet timestamp beside it, so a second refresh is a change too): any
annotation change makes the controller reconcile the Application at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes_asyncio.client import ApiClient

from fleet.appcli import operation
from fleet.appcli.hub import hub_error, patch_application
from fleet.kube import KubeError

REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
REFRESHED_AT = "fleet.gitops.dev/refresh-requested-at"


def _target_revision(app: Mapping[str, Any]) -> str:
    spec = app.get("spec") or {}
    source = spec.get("source") or ((spec.get("sources") or [{}])[0])
    return str((source or {}).get("targetRevision") or "HEAD")


def _by(op: dict[str, Any], user: str) -> dict[str, Any]:
    op["initiatedBy"] = {"username": user}
    return op


async def sync(
    hub: ApiClient, namespace: str, name: str, user: str, *, prune: bool, dry_run: bool
) -> str:
    """Request a sync to the target revision; returns what to tell the user."""

    def build(app: dict[str, Any]) -> dict[str, Any]:
        revision = _target_revision(app)
        return _by(operation.sync_operation(revision, prune=prune, dry_run=dry_run), user)

    requested = await operation.request(hub, namespace, name, build)
    revision = requested.app["operation"]["sync"].get("revision", "")
    kind = "dry-run sync" if dry_run else "sync"
    by = requested.app["operation"].get("initiatedBy", {}).get("username", "")
    options = ", prune" if requested.app["operation"]["sync"].get("prune") else ""
    return f"{kind} of {name} requested by {by} (revision {revision}{options})"


async def rollback(hub: ApiClient, namespace: str, name: str, user: str, history_id: int) -> str:
    def build(app: dict[str, Any]) -> dict[str, Any]:
        return _by(operation.rollback_operation(app, name, history_id), user)

    requested = await operation.request(hub, namespace, name, build)
    revision = requested.app["operation"]["sync"].get("revision", "")
    return f"rollback of {name} to history ID {history_id} requested (revision {revision})"


async def refresh(hub: ApiClient, namespace: str, name: str) -> str:
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    patch = {"metadata": {"annotations": {REFRESH_ANNOTATION: "normal", REFRESHED_AT: at}}}
    try:
        await patch_application(hub, namespace, name, patch)
    except KubeError as error:
        raise hub_error(error, f"application {name!r}") from None
    return f"refresh of {name} requested"
