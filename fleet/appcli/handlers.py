"""`fleet app list|get|diff|sync|history|rollback`: the work behind `fleet.appcli.commands`.

Each handler takes the parsed args and returns an exit code (0 ok, 1 hub/cluster failure or a
failed operation, 2 bad input or a refused request); errors are one line on stderr,
`fleet: ...`, and never carry a response body or a credential.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import anyio

from fleet.appcli import operation, views
from fleet.appcli.errors import EXIT_BAD_INPUT, EXIT_FAILED, CliError
from fleet.appcli.hub import (
    get_application,
    hub_client,
    hub_error,
    list_applications,
    use_api,
    without_managed_fields,
)
from fleet.kube import KubeError
from fleet.redaction import redact

Handler = Callable[[argparse.Namespace], Awaitable[int]]


def _out(text: str) -> None:
    sys.stdout.write(redact(text))  # never print a credential (a repoURL's password)
    sys.stdout.flush()


# -- list / get / history -------------------------------------------------------------------


async def _list(args: argparse.Namespace) -> int:
    async with hub_client(args.hub_kubeconfig, args.hub_context) as hub:
        apps = await list_applications(hub, args.namespace, args.selector)
    if args.output == "table" and not apps:
        print(f"No applications found in namespace {args.namespace}.", file=sys.stderr)
    elif args.output == "table":
        _out(views.list_table(apps, datetime.now(UTC)))
    else:
        _out(views.dump({"items": [without_managed_fields(a) for a in apps]}, args.output))
    return 0


async def _get(args: argparse.Namespace) -> int:
    async with hub_client(args.hub_kubeconfig, args.hub_context) as hub:
        app = await get_application(hub, args.namespace, args.name)
    if args.output == "table":
        _out(views.summary(app))
    else:
        _out(views.dump(without_managed_fields(app), args.output))
    return 0


def _history(app: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(e) for e in (app.get("status") or {}).get("history") or []]


async def _history_command(args: argparse.Namespace) -> int:
    async with hub_client(args.hub_kubeconfig, args.hub_context) as hub:
        app = await get_application(hub, args.namespace, args.name)
    entries = _history(app)
    if args.output == "table":
        _out(views.history_table(entries))
    else:
        _out(views.dump(entries, args.output))
    return 0


# -- sync / rollback --------------------------------------------------------------------------


def _target_revision(app: Mapping[str, Any]) -> str:
    spec = app.get("spec") or {}
    source = spec.get("source") or ((spec.get("sources") or [{}])[0])
    return str((source or {}).get("targetRevision") or "HEAD")


async def _request_and_report(
    args: argparse.Namespace, build: Callable[[dict[str, Any]], dict[str, Any]], what: str
) -> int:
    async with hub_client(args.hub_kubeconfig, args.hub_context) as hub:
        requested = await operation.request(hub, args.namespace, args.name, build)
        revision = requested.app["operation"]["sync"].get("revision", "")
        if not args.wait:
            _out(
                f"{what} requested for application {args.name} (revision {revision}); "
                f"follow it with `fleet app get {args.name}`\n"
            )
            return 0
        _out(f"{what} requested for application {args.name} (revision {revision}); waiting\n")
        app = await operation.wait(hub, args.namespace, args.name, requested, args.timeout)
    state = (app.get("status") or {}).get("operationState") or {}
    text = views.fields(views.operation_lines(state))
    results = (state.get("syncResult") or {}).get("resources") or []
    if results:
        text += "\n" + views.result_table(results)
    _out(text)
    return 0 if operation.succeeded(app) else EXIT_FAILED


async def _sync(args: argparse.Namespace) -> int:
    def build(app: dict[str, Any]) -> dict[str, Any]:
        return operation.sync_operation(
            args.revision or _target_revision(app), prune=args.prune, dry_run=args.dry_run
        )

    return await _request_and_report(args, build, "sync")


async def _rollback(args: argparse.Namespace) -> int:
    def build(app: dict[str, Any]) -> dict[str, Any]:
        return operation.rollback_operation(app, args.name, args.id, prune=args.prune)

    return await _request_and_report(args, build, f"rollback to history ID {args.id}")


# -- diff ---------------------------------------------------------------------------------------


async def _diff(args: argparse.Namespace) -> int:
    from fleet.appcli.livediff import live_diff  # git, render and sync engine: only here

    async with hub_client(args.hub_kubeconfig, args.hub_context) as hub:
        try:
            with anyio.fail_after(args.timeout):
                text = await live_diff(
                    hub, args.namespace, args.name, render_bin_dir=args.render_bin_dir
                )
        except TimeoutError:
            raise CliError(
                f"application {args.name!r}: diff did not finish within {args.timeout:g}s"
            ) from None
    _out(text)
    return EXIT_FAILED if text and args.exit_code else 0


# -- entry -------------------------------------------------------------------------------------

HANDLERS: dict[str, Handler] = {
    "list": _list,
    "get": _get,
    "history": _history_command,
    "sync": _sync,
    "rollback": _rollback,
    "diff": _diff,
}


def run_command(command: str, args: argparse.Namespace) -> int:
    """Run `fleet app COMMAND` (parsed by fleet.appcli.commands) in its own event loop."""
    handler = HANDLERS[command]
    chosen = use_api(str(getattr(args, "api", None) or "fleet"))
    if getattr(args, "namespace", "") is None:
        args.namespace = chosen.namespace
    timeout = getattr(args, "timeout", None)
    if timeout is not None and timeout <= 0:
        print(f"fleet: --timeout {timeout:g}: must be positive", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        code: int = anyio.run(handler, args)
    except CliError as error:
        one_line = " ".join(str(error).split())  # git and tools answer on several lines
        print(f"fleet: {redact(one_line)}", file=sys.stderr)
        return error.code
    except KubeError as error:  # a hub call not mapped where it was made
        print(f"fleet: {redact(str(hub_error(error)))}", file=sys.stderr)
        return EXIT_FAILED
    return code
