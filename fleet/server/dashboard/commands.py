"""The arguments of `fleet dashboard`, apart from its implementation (loaded when it runs)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_LISTEN = "127.0.0.1:8090"


def register(subparsers: Any) -> None:
    """Add `dashboard` to fleet's top-level subparsers."""
    parser = subparsers.add_parser(
        "dashboard",
        help="serve the web dashboard from a laptop (one hub watch shared by every browser)",
        description=(
            "Watch the hub's Applications, ApplicationSets and Clusters once and serve the "
            "dashboard on --listen. Read-only unless a browser signs in with a hub token; every "
            "write is then reviewed by the hub (TokenReview + SubjectAccessReview), so the "
            "kubeconfig given here needs create on tokenreviews and subjectaccessreviews."
        ),
    )
    parser.add_argument(
        "--hub-kubeconfig",
        type=Path,
        default=None,
        metavar="PATH",
        help="kubeconfig of the hub (default: $KUBECONFIG, in-cluster, then ~/.kube/config)",
    )
    parser.add_argument(
        "--hub-context", "--context", dest="hub_context", default=None, help="its context"
    )
    parser.add_argument(
        "-n", "--namespace", default=None, help="hub namespace (default: fleet-system)"
    )
    parser.add_argument(
        "--api",
        choices=["argocd", "fleet"],
        default="fleet",
        help="whose Applications to show: fleet.gitops.dev or argoproj.io (default fleet)",
    )
    parser.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help="where to serve (default %(default)s; keep it on loopback on a shared machine)",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from fleet.server.dashboard.serve import main

    return main(args)
