"""`fleet notifications check`: the arguments (cheap to import); fleet.notify.check runs it."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add `notifications` to fleet's top-level subparsers."""
    notifications = subparsers.add_parser(
        "notifications", help="work with Argo CD-style notification configuration"
    )
    commands = notifications.add_subparsers(dest="notifications_command", required=True)
    check = commands.add_parser(
        "check",
        help="check an argocd-notifications-cm offline; with --app, show what it would send",
        description=(
            "Read a notifications ConfigMap (and Secret) from files, report every key that "
            "cannot be used (exit 2), and for each --app Application print the triggers that "
            "fire for its subscriptions and the rendered notifications, without sending "
            "anything. Secret values are never printed."
        ),
    )
    check.add_argument("configmap", metavar="CONFIGMAP.yaml")
    check.add_argument("--secret", metavar="SECRET.yaml", default=None)
    check.add_argument(
        "--app",
        action="append",
        default=[],
        metavar="APP.yaml",
        help="an Application (as `kubectl get app -o yaml` prints it); repeatable",
    )
    check.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    from fleet.notify.check import run_check

    return run_check(args.configmap, args.secret, args.app)
