"""The `fleet` command line."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import structlog

from fleet import __version__
from fleet.appcli.commands import register as register_app_commands
from fleet.appset_render import (
    InputError,
    format_applications,
    parse_repo_mappings,
    render_applications,
)
from fleet.clusters.commands import register as register_cluster_commands
from fleet.controllers.commands import register as register_controller_commands
from fleet.demo.commands import register as register_demo_command
from fleet.logging import configure_logging
from fleet.notify.commands import register as register_notify_commands
from fleet.server.dashboard.commands import register as register_dashboard_command

EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fleet", description="Multi-cluster GitOps controller")
    parser.add_argument("--version", action="version", version=f"fleet {__version__}")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    commands = parser.add_subparsers(dest="command", required=True)

    appset = commands.add_parser("appset", help="work with ApplicationSets")
    appset_commands = appset.add_subparsers(dest="appset_command", required=True)
    render = appset_commands.add_parser(
        "render", help="print the Applications an ApplicationSet generates, offline"
    )
    render.add_argument("appset", metavar="APPSET.yaml")
    render.add_argument(
        "--clusters", metavar="CLUSTERS.yaml", help="registered clusters: [{name, server, labels}]"
    )
    render.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="URL=DIR",
        help="read repoURL from a local folder or git work tree (repeatable)",
    )
    render.add_argument(
        "--no-in-cluster",
        action="store_true",
        help="the hub is not a target (Argo CD's cluster.inClusterEnabled: false)",
    )
    render.add_argument("-o", "--output", choices=["yaml", "json"], default="yaml")
    render.set_defaults(handler=_appset_render)
    diff = appset_commands.add_parser(
        "diff",
        help="show what applying an ApplicationSet would create, update and delete on the hub",
    )
    diff.add_argument("appset", metavar="APPSET.yaml")
    diff.add_argument(
        "--hub-kubeconfig",
        type=Path,
        default=None,
        help="kubeconfig of the hub (default: $KUBECONFIG, in-cluster, ~/.kube/config)",
    )
    diff.add_argument("--hub-context", "--context", default=None)
    diff.add_argument(
        "--api",
        choices=["argocd", "fleet"],
        default="fleet",
        help="whose ApplicationSets: fleet's (default) or Argo CD's (argoproj.io), as "
        "`fleet controller run --api` serves them",
    )
    diff.add_argument(
        "--namespace",
        "-n",
        default=None,
        help="the hub namespace (default: fleet-system, or argocd with --api argocd)",
    )
    diff.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="URL=DIR",
        help="use a local copy of a repository (else it is fetched with the hub's Secrets)",
    )
    diff.add_argument("-o", "--output", choices=("text", "json"), default="text")
    diff.set_defaults(handler=_appset_diff)

    sim = commands.add_parser("sim", help="simulated Kubernetes clusters (demos, scale tests)")
    sim_commands = sim.add_subparsers(dest="sim_command", required=True)
    serve = sim_commands.add_parser("serve", help="serve N simulated clusters until SIGTERM")
    serve.add_argument("--clusters", type=int, default=1)
    serve.add_argument("--port", type=int, default=None, help="default: a free port")
    serve.add_argument("--kubeconfig-dir", type=Path, default=Path("sim-kubeconfigs"))
    serve.add_argument(
        "--port-per-cluster",
        action="store_true",
        help="also give each cluster its own port (real 'connection refused' faults)",
    )
    serve.add_argument(
        "--profile",
        choices=("minimal", "realistic"),
        default="minimal",
        help="what each cluster serves and starts with: minimal (fleet's 20 kinds, 4 "
        "namespaces) or realistic (a kind member of Kubernetes 1.36: 60 kinds, ~290 objects)",
    )
    serve.add_argument(
        "--bookmark-interval",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help="seconds between the bookmarks of a watch that asks for them (default 5, for "
        "tests; a real API server sends about one a minute, as the benches do)",
    )
    serve.set_defaults(handler=_sim_serve)
    faults = sim_commands.add_parser(
        "faults", help="inject faults into a running simulated cluster (reliability drills)"
    )
    faults.add_argument("--kubeconfig", type=Path, required=True, help="the cluster's kubeconfig")
    faults.add_argument("--latency", type=float, help="seconds added to every request")
    faults.add_argument("--error-rate", type=float, help="share of requests answered 500 (0-1)")
    faults.add_argument("--refuse", action=argparse.BooleanOptionalAction, help="drop connections")
    faults.add_argument("--hang", action=argparse.BooleanOptionalAction, help="never answer")
    faults.add_argument("--clear", action="store_true", help="reset all faults first")
    faults.set_defaults(handler=_sim_faults)
    register_cluster_commands(commands)
    register_app_commands(commands)
    register_demo_command(commands)
    register_notify_commands(commands)
    register_dashboard_command(commands)
    register_controller_commands(commands)
    return parser


def _appset_render(args: argparse.Namespace) -> int:
    log = structlog.get_logger("fleet.appset_render")
    applications, warnings = render_applications(
        args.appset,
        clusters_path=args.clusters,
        repos=parse_repo_mappings(args.repo),
        in_cluster=not args.no_in_cluster,
    )
    text = format_applications(applications, args.output)
    for warning in warnings:
        log.warning("appset.warning", message=warning)
    sys.stdout.write(text)
    return 0


def _appset_diff(args: argparse.Namespace) -> int:
    from fleet.appset_diff import run_appset_diff

    return run_appset_diff(args)


def _sim_serve(args: argparse.Namespace) -> int:
    # lazily: `fleet appset render` need not load TLS machinery
    from fleet.sim.cli import serve
    from fleet.sim.server import DEFAULT_BOOKMARK_INTERVAL

    serve(
        args.clusters,
        args.port,
        args.kubeconfig_dir,
        port_per_cluster=args.port_per_cluster,
        profile=args.profile,
        bookmark_interval=args.bookmark_interval or DEFAULT_BOOKMARK_INTERVAL,
    )
    return 0


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"{text}: expected a positive number of seconds")
    return value


def _sim_faults(args: argparse.Namespace) -> int:
    import json

    from fleet.sim.cli import set_faults

    values = {
        key: value
        for key, value in {
            "latency": args.latency,
            "error_rate": args.error_rate,
            "refuse": args.refuse,
            "hang": args.hang,
        }.items()
        if value is not None
    }
    print(json.dumps(set_faults(args.kubeconfig, values, clear=args.clear)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        code: int = args.handler(args)
    except InputError as error:
        print(f"fleet: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return code


if __name__ == "__main__":
    sys.exit(main())
