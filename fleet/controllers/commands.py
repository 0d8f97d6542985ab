"""`fleet controller run`: arguments here (cheap to import), the controller loaded when run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fleet.api.resources import DEFAULT_NAMESPACE


def register(subparsers: Any) -> None:
    controller = subparsers.add_parser("controller", help="run the fleet controller")
    commands = controller.add_subparsers(dest="controller_command", required=True)
    run = commands.add_parser(
        "run", help="reconcile ApplicationSets and Applications until SIGTERM"
    )
    run.add_argument(
        "--hub-kubeconfig",
        type=Path,
        default=None,
        help="kubeconfig of the hub (default: $KUBECONFIG, in-cluster, ~/.kube/config)",
    )
    run.add_argument("--hub-context", default=None)
    run.add_argument("--namespace", "-n", default=DEFAULT_NAMESPACE)
    run.add_argument("--listen", default="0.0.0.0:8080", metavar="HOST:PORT")
    run.add_argument("--cache-dir", type=Path, default=Path(".cache/fleet-controller"))
    run.add_argument("--resync-period", type=float, default=180.0, metavar="SECONDS")
    run.add_argument("--git-poll-interval", type=float, default=60.0, metavar="SECONDS")
    run.add_argument("--workers", type=int, default=16)
    run.add_argument(
        "--per-cluster", type=int, default=4, help="reconciles at once against one cluster"
    )
    run.add_argument(
        "--deletion-budget",
        default="20%",
        help="Applications an ApplicationSet may delete per window: N or P%%",
    )
    run.add_argument("--shutdown-grace", type=float, default=30.0, metavar="SECONDS")
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from fleet.controllers.main import run_controller

    return run_controller(args)
