"""The arguments of `fleet cluster add|list|remove`, apart from their (heavy) implementation.

Every `fleet` invocation builds the whole parser; importing the Kubernetes client for it would add
most of a second to `fleet appset render`. The handlers load `fleet.clusters.cli` when run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_NAMESPACE = "fleet-system"
SERVICE_ACCOUNT = "fleet-manager"
SA_NAMESPACE = "kube-system"


def register(subparsers: Any) -> None:
    """Add `cluster add|list|remove` to fleet's top-level subparsers."""
    cluster = subparsers.add_parser("cluster", help="register member clusters on the hub")
    commands = cluster.add_subparsers(dest="cluster_command", required=True)

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--hub-kubeconfig",
            type=Path,
            default=None,
            help="kubeconfig of the hub (default: $KUBECONFIG or ~/.kube/config)",
        )
        parser.add_argument("--hub-context", default=None, help="context in the hub kubeconfig")
        parser.add_argument("--namespace", "-n", default=DEFAULT_NAMESPACE)

    add = commands.add_parser("add", help="store a context's credentials and create a Cluster")
    add.add_argument("name")
    add.add_argument("--kubeconfig", type=Path, required=True, help="the member's kubeconfig")
    add.add_argument("--context", default=None, help="default: the current context")
    add.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    add.add_argument("--project", default="")
    add.add_argument(
        "--service-account",
        action="store_true",
        help=f"create {SA_NAMESPACE}/{SERVICE_ACCOUNT} (cluster-admin) on the member "
        "and store its token instead of the kubeconfig's credentials",
    )
    common(add)
    add.set_defaults(handler=_lazy("add"))

    listing = commands.add_parser("list", help="registered clusters and their health")
    listing.add_argument("-o", "--output", choices=["table", "yaml", "json"], default="table")
    common(listing)
    listing.set_defaults(handler=_lazy("list"))

    remove = commands.add_parser("remove", help="delete a Cluster and the Secret `add` made")
    remove.add_argument("name")
    common(remove)
    remove.set_defaults(handler=_lazy("remove"))


def _lazy(command: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from fleet.clusters.cli import run_command

        return run_command(command, args)

    return run
