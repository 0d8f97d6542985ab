"""The arguments of `fleet app ...`, apart from their (heavy) implementation.

Every `fleet` invocation builds the whole parser; importing the Kubernetes client, GitPython or
the sync engine for it would slow `fleet appset render` down. The handlers load
`fleet.appcli.handlers` only when an `app` command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

DEFAULT_NAMESPACE = "fleet-system"
DEFAULT_WAIT_TIMEOUT = 300.0
DEFAULT_DIFF_TIMEOUT = 180.0
OUTPUTS = ["table", "yaml", "json"]


def _hub_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hub-kubeconfig",
        type=Path,
        default=None,
        metavar="PATH",
        help="kubeconfig of the hub (default: $KUBECONFIG or ~/.kube/config)",
    )
    parser.add_argument(
        "--hub-context",
        "--context",
        dest="hub_context",
        default=None,
        help="context in the hub kubeconfig (default: its current context)",
    )
    parser.add_argument(
        "--api",
        choices=["argocd", "fleet"],
        default="fleet",
        help="whose Applications: fleet's (fleet.gitops.dev; default) or Argo CD's "
        "(argoproj.io), as `fleet controller run --api` serves them",
    )
    parser.add_argument(
        "--namespace",
        "-n",
        default=None,
        help=f"the hub namespace holding Applications (default: {DEFAULT_NAMESPACE}, or "
        "argocd with --api argocd)",
    )


def _wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait", action="store_true", help="wait for the operation to finish and report it"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_WAIT_TIMEOUT,
        metavar="SECONDS",
        help=f"with --wait: give up after this long (default: {DEFAULT_WAIT_TIMEOUT:g})",
    )


def register(subparsers: Any) -> None:
    """Add `app list|get|diff|sync|history|rollback` to fleet's top-level subparsers."""
    app = subparsers.add_parser("app", help="inspect and sync Applications on the hub")
    commands = app.add_subparsers(dest="app_command", required=True)

    listing = commands.add_parser("list", help="Applications with their sync and health status")
    listing.add_argument("-l", "--selector", default=None, help="label selector (key=value,...)")
    listing.add_argument("-o", "--output", choices=OUTPUTS, default="table")
    _hub_options(listing)
    listing.set_defaults(handler=_lazy("list"))

    get = commands.add_parser("get", help="one Application: summary, operation, resources")
    get.add_argument("name")
    get.add_argument("-o", "--output", choices=OUTPUTS, default="table")
    _hub_options(get)
    get.set_defaults(handler=_lazy("get"))

    diff = commands.add_parser(
        "diff", help="what a sync would change on the cluster (Git rendered vs live)"
    )
    diff.add_argument("name")
    diff.add_argument("--exit-code", action="store_true", help="exit 1 when there are differences")
    diff.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_DIFF_TIMEOUT,
        metavar="SECONDS",
        help=f"give up after this long (default: {DEFAULT_DIFF_TIMEOUT:g})",
    )
    diff.add_argument(
        "--render-bin-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where helm/kustomize are looked for before PATH "
        "(default: $FLEET_RENDER_BIN_DIR or .cache/bin)",
    )
    _hub_options(diff)
    diff.set_defaults(handler=_lazy("diff"))

    sync = commands.add_parser("sync", help="request a sync (the controller runs it)")
    sync.add_argument("name")
    sync.add_argument("--revision", default=None, help="default: the Application's targetRevision")
    sync.add_argument("--prune", action="store_true", help="delete resources that left Git")
    sync.add_argument("--dry-run", action="store_true", help="preview: apply nothing")
    _wait_options(sync)
    _hub_options(sync)
    sync.set_defaults(handler=_lazy("sync"))

    history = commands.add_parser("history", help="the revisions deployed so far")
    history.add_argument("name")
    history.add_argument("-o", "--output", choices=OUTPUTS, default="table")
    _hub_options(history)
    history.set_defaults(handler=_lazy("history"))

    rollback = commands.add_parser(
        "rollback", help="sync to the revision of a history entry (automated sync must be off)"
    )
    rollback.add_argument("name")
    rollback.add_argument("id", type=int, metavar="ID", help="a history ID (`fleet app history`)")
    rollback.add_argument("--prune", action="store_true", help="delete resources that left Git")
    _wait_options(rollback)
    _hub_options(rollback)
    rollback.set_defaults(handler=_lazy("rollback"))


def _lazy(command: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from fleet.appcli.handlers import run_command

        return run_command(command, args)

    return run


def main(argv: Sequence[str] | None = None) -> int:
    """`fleet app ...` on its own (tests, and a stand-in until fleet.cli wires `register`)."""
    parser = argparse.ArgumentParser(prog="fleet")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
