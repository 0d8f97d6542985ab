"""`fleet controller run`: arguments here (cheap to import), the controller loaded when run."""

from __future__ import annotations

import argparse
import os
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
    run.add_argument(
        "--listen",
        default="0.0.0.0:8080",
        metavar="HOST:PORT",
        help="webhooks, /metrics (and /healthz, /readyz, judged on the busy loop)",
    )
    run.add_argument(
        "--health-listen",
        default="0.0.0.0:8081",
        metavar="HOST:PORT",
        help="/healthz and /readyz answered by the liveness thread, never behind reconcile "
        "work (point the kubelet's probes here); 'off' to serve them on --listen only",
    )
    run.add_argument(
        "--liveness-stall",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="/healthz fails once the controller's event loop has not run for this long",
    )
    run.add_argument(
        "--cache-dir",
        type=Path,
        default=default_cache_dir(),
        help="where the bare git mirrors live (default: $XDG_CACHE_HOME/fleet/controller, "
        "else ~/.cache/fleet/controller; the Deployment in deploy/ sets /var/cache/fleet)",
    )
    # -- the HTTP server (fleet.server.limits.HttpLimits) --
    run.add_argument(
        "--http-max-connections",
        type=int,
        default=256,
        metavar="N",
        help="open HTTP connections at most; beyond, the longest idle one is closed, so the "
        "kubelet's probes always get through",
    )
    run.add_argument(
        "--http-header-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="a connection must send a complete request head within this long of connecting "
        "or of its previous response, else it is closed",
    )
    run.add_argument(
        "--http-body-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="a webhook body must arrive within this long (408 otherwise)",
    )
    run.add_argument(
        "--webhook-max-body",
        type=int,
        default=1024 * 1024,
        metavar="BYTES",
        help="largest webhook body read (413 beyond)",
    )
    run.add_argument("--resync-period", type=float, default=180.0, metavar="SECONDS")
    run.add_argument("--git-poll-interval", type=float, default=60.0, metavar="SECONDS")
    run.add_argument(
        "--workers", type=int, default=128, help="reconciles at once in all (see --per-cluster)"
    )
    run.add_argument(
        "--per-cluster", type=int, default=4, help="reconciles at once against one cluster"
    )
    run.add_argument(
        "--deletion-budget",
        default="20%",
        help="Applications an ApplicationSet may delete per window: N or P%%",
    )
    run.add_argument("--shutdown-grace", type=float, default=30.0, metavar="SECONDS")
    # -- bounds of one ApplicationSet's expansion (generators.limits.ExpansionLimits) --
    run.add_argument(
        "--appset-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="wall clock one ApplicationSet's expansion may take; past it the expansion stops, "
        "is reported on the ApplicationSet (ErrorOccurred) and deletes nothing",
    )
    run.add_argument(
        "--appset-max-parameter-sets",
        type=int,
        default=100_000,
        metavar="N",
        help="parameter sets one generator (a matrix product included) may produce",
    )
    run.add_argument(
        "--appset-max-expansion-mib",
        type=int,
        default=64,
        metavar="MIB",
        help="size of all Applications one ApplicationSet generates together (about their "
        "JSON); one Application is always limited to 1 MiB (etcd's object limit)",
    )
    run.add_argument(
        "--probe-interval",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="health probe period of an idle cluster (busy ones are judged by their traffic)",
    )
    # -- exec plugins of hub Secrets (fleet.clusters.credentials.ExecPolicy) --
    run.add_argument(
        "--exec-plugin-allow",
        action="append",
        default=[],
        metavar="CMD",
        help="let cluster Secrets run this exec credential plugin: a command name (looked up "
        "in a fixed PATH) or an absolute path, matched exactly; repeatable. Default: none, a "
        "Secret with an exec plugin is refused (its Cluster says how to allow it)",
    )
    run.add_argument(
        "--exec-plugin-env",
        action="append",
        default=[],
        metavar="NAME",
        help="pass this variable of the controller's environment to exec plugins (e.g. "
        "AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE); repeatable. Plugins get nothing else of it",
    )
    # -- what a tenant's repository may reach (fleet.render.reach, fleet.controllers.appset) --
    run.add_argument(
        "--require-render-sandbox",
        action="store_true",
        help="refuse to run helm/kustomize unless the kernel can confine them with Landlock "
        "(read only the repository, no network but permitted remote bases); default: without "
        "Landlock renders rely on static checks only, as the start-up log and the metric "
        "fleet_render_sandbox_landlock_abi (0) say",
    )
    run.add_argument(
        "--allow-generator-repos-outside-project",
        action="store_true",
        help="let ApplicationSet git generators read repositories that the generated "
        "Applications' Projects do not list in sourceRepos (Argo CD's behaviour); default: "
        "such an ApplicationSet is refused and nothing is created, updated or deleted for it",
    )
    # -- sharding (fleet.controllers.sharding) --
    run.add_argument(
        "--shards",
        type=int,
        default=1,
        metavar="N",
        help="split the clusters into N shards (sha256 of the cluster name mod N), each held "
        "by one replica through the Lease fleet-shard-<i> in the hub namespace; replicas share "
        "them evenly and take over a dead replica's within --lease-duration. The holder of "
        "shard 0 also runs the ApplicationSet controller. 1 (default): leader election, one "
        "active replica",
    )
    run.add_argument(
        "--replica-id",
        default=None,
        metavar="ID",
        help="this replica's identity in the Leases, unique among the running replicas "
        "(default: hostname-pid)",
    )
    run.add_argument(
        "--lease-duration",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="a replica that stops renewing (crash, cut off from the hub) loses its shards "
        "after this long; it renews every third of it",
    )
    # -- end sharding --
    run.set_defaults(handler=_run)


def default_cache_dir() -> Path:
    """Absolute whatever the working directory: $XDG_CACHE_HOME/fleet/controller (when set and
    absolute, as the XDG spec requires), else ~/.cache/fleet/controller."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "fleet" / "controller"


def _run(args: argparse.Namespace) -> int:
    from fleet.controllers.main import run_controller

    return run_controller(args)
