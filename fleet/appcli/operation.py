"""Requesting a sync the Argo CD way, and waiting for the controller to finish it.

A request is a merge patch of the Application's top-level `operation` field; the controller
runs it, writes `status.operationState` and removes `operation`. The patch carries the
resourceVersion the in-progress check was made on, so two clients racing cannot both believe
they started the sync (the loser gets 409, re-reads and is refused or retries).
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
from kubernetes_asyncio.client import ApiClient

from fleet.appcli.errors import EXIT_BAD_INPUT, EXIT_FAILED, AppNotFound, CliError
from fleet.appcli.hub import get_application, hub_error, patch_application
from fleet.appcli.views import automated, parse_time
from fleet.kube import Conflict, KubeError

TERMINAL = ("Succeeded", "Failed", "Error")
SUCCEEDED = "Succeeded"
ATTEMPTS = 3
FIRST_POLL = 0.2
POLL_CAP = 5.0


def local_user() -> str:
    """Who asked (recorded in `operation.initiatedBy.username`, as Argo CD records it)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def sync_operation(
    revision: str,
    *,
    prune: bool = False,
    dry_run: bool = False,
    source: Mapping[str, Any] | None = None,
    sync_options: list[str] | None = None,
) -> dict[str, Any]:
    """Argo CD's `Operation` document for a sync (or, with `source`, a rollback)."""
    sync: dict[str, Any] = {"revision": revision, "prune": prune}
    if dry_run:
        sync["dryRun"] = True
    if source:
        sync["source"] = dict(source)
    if sync_options:
        sync["syncOptions"] = list(sync_options)
    return {"sync": sync, "initiatedBy": {"username": local_user()}}


def rollback_operation(
    app: Mapping[str, Any], name: str, history_id: int, *, prune: bool = False
) -> dict[str, Any]:
    """The sync to history entry `history_id` (Argo CD's rollback), or CliError saying why
    not (automated sync would undo it; no such entry; an entry without a revision). Shared by
    `fleet app rollback` and the dashboard."""
    if automated(app.get("spec") or {}):
        raise CliError(
            f"application {name!r} has automated sync enabled: a rollback would be undone "
            "by the next automated sync; disable it first (remove "
            "spec.syncPolicy.automated), then roll back",
            EXIT_BAD_INPUT,
        )
    history = (app.get("status") or {}).get("history")
    entries = [e for e in history if isinstance(e, Mapping)] if isinstance(history, list) else []
    entry = next((e for e in entries if e.get("id") == history_id), None)
    if entry is None:
        valid = ", ".join(str(e.get("id")) for e in entries) or "none (no history yet)"
        raise CliError(
            f"application {name!r} has no history ID {history_id}; valid IDs: {valid}",
            EXIT_BAD_INPUT,
        )
    if not entry.get("revision"):
        raise CliError(
            f"application {name!r}: history ID {history_id} records no revision", EXIT_BAD_INPUT
        )
    return sync_operation(str(entry["revision"]), prune=prune, source=entry.get("source"))


def in_progress(app: Mapping[str, Any]) -> bool:
    state = (app.get("status") or {}).get("operationState") or {}
    return bool(app.get("operation")) and state.get("phase") == "Running"


@dataclass(frozen=True)
class Requested:
    app: dict[str, Any]
    """The Application as the patch left it."""
    at: datetime
    """When the request was made (this machine's clock, whole seconds as the API writes)."""
    previous: Mapping[str, Any]
    """`status.operationState` before the request: the wait ignores it."""


async def request(hub: ApiClient, namespace: str, name: str, build: Any) -> Requested:
    """Set `operation` to `build(app)` unless an operation is running. `build` may raise
    CliError (e.g. rollback refused) after seeing the current Application."""
    for _ in range(ATTEMPTS):
        app = await get_application(hub, namespace, name)
        if in_progress(app):
            raise CliError(
                f"application {name!r}: another operation is already in progress; "
                f"wait for it (`fleet app get {name}`) and retry",
                EXIT_BAD_INPUT,
            )
        operation = build(app)
        previous = dict((app.get("status") or {}).get("operationState") or {})
        at = datetime.now(UTC).replace(microsecond=0)
        patch = {
            "metadata": {"resourceVersion": app["metadata"].get("resourceVersion")},
            "operation": operation,
        }
        try:
            updated = await patch_application(hub, namespace, name, patch)
        except Conflict:
            continue  # changed since the read: check again
        except KubeError as error:
            raise hub_error(error, f"application {name!r}") from None
        if not updated.get("operation"):
            raise CliError(
                f"application {name!r}: the hub dropped the `operation` field "
                "(is the Application CRD current? `fleet` installs it with its CRDs)"
            )
        return Requested(updated, at, previous)
    raise CliError(f"application {name!r} kept changing; retry", EXIT_FAILED)


def _finished(app: Mapping[str, Any], requested: Requested) -> bool:
    if app.get("operation"):
        return False
    state = (app.get("status") or {}).get("operationState") or {}
    if state.get("phase") not in TERMINAL:
        return False
    finished = parse_time(state.get("finishedAt"))
    if finished is not None and finished >= requested.at:
        return True
    # a controller whose clock is behind ours: any new terminal state counts
    return dict(state) != dict(requested.previous)


async def wait(
    hub: ApiClient, namespace: str, name: str, requested: Requested, timeout: float
) -> dict[str, Any]:
    """Poll (growing interval, capped) until the controller finished the requested operation;
    the Application then. Transient hub failures are retried until the timeout."""
    delay = FIRST_POLL
    last_error = ""
    last_state: Mapping[str, Any] = {}
    with anyio.move_on_after(timeout):
        while True:
            try:
                app = await get_application(hub, namespace, name)
            except AppNotFound:
                raise
            except CliError as error:
                last_error = str(error)
            else:
                if _finished(app, requested):
                    return app
                state = (app.get("status") or {}).get("operationState") or {}
                if dict(state) != dict(requested.previous):
                    last_state = state
            await anyio.sleep(delay)
            delay = min(delay * 1.5, POLL_CAP)
    detail = f" (last error: {last_error})" if last_error else ""
    if last_state.get("phase"):  # e.g. Error while the controller retries
        detail += f" (last phase {last_state['phase']}: {last_state.get('message') or '-'})"
    raise CliError(
        f"application {name!r}: the operation did not finish within {timeout:g}s{detail}; "
        f"it may still run: `fleet app get {name}`",
        EXIT_FAILED,
    )


def succeeded(app: Mapping[str, Any]) -> bool:
    state = (app.get("status") or {}).get("operationState") or {}
    return state.get("phase") == SUCCEEDED
