"""`fleet controller run`: arguments here (cheap to import), the controller loaded when run.

`--workers N` (N > 1) runs a supervisor (fleet.controllers.workers) instead of the controller:
it starts N worker processes, each `fleet controller run --workers 1` with the same options
(`worker_options`) plus its own identity, loopback ports and cache directory.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

from fleet.api.group import FLAVOURS, FLEET


def register(subparsers: Any) -> None:
    controller = subparsers.add_parser("controller", help="run the fleet controller")
    commands = controller.add_subparsers(dest="controller_command", required=True)
    run = commands.add_parser(
        "run", help="reconcile ApplicationSets and Applications until SIGTERM"
    )
    add_run_arguments(run)
    run.set_defaults(handler=_run)


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--hub-kubeconfig",
        type=Path,
        default=None,
        help="kubeconfig of the hub (default: $KUBECONFIG, in-cluster, ~/.kube/config)",
    )
    run.add_argument("--hub-context", default=None)
    run.add_argument(
        "--api",
        choices=sorted(FLAVOURS),
        default=FLEET.name,
        help="whose API group to serve: fleet (fleet.gitops.dev; default) or argocd (Argo CD's "
        "argoproj.io Applications, ApplicationSets and AppProjects, clusters from Argo CD "
        "cluster Secrets only), to take over from Argo CD's controllers",
    )
    run.add_argument(
        "--namespace",
        "-n",
        default=None,
        help="the hub namespace (default: fleet-system, or argocd with --api argocd)",
    )
    run.add_argument(
        "--argocd-tracking-method",
        choices=["annotation", "annotation+label", "label"],
        default="annotation",
        help="with --api argocd: how Argo CD tracked its resources (its argocd-cm "
        "application.resourceTrackingMethod; default annotation, Argo CD 3's default). "
        "Objects carrying Argo CD's mark for an Application are adopted by it",
    )
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
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="controller processes in this pod, each a replica holding its share of the "
        "shards (one Python process uses one core). N > 1: a supervisor owns the ports and "
        "restarts a worker that dies. Default: the CPUs this process may use (affinity and "
        "cgroup CPU limit); 1: a single process",
    )
    run.add_argument(
        "--reconciles",
        type=int,
        default=128,
        metavar="N",
        help="reconciles at once in all, per worker (see --per-cluster)",
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
        default=None,
        metavar="N",
        help="split the clusters into N shards (sha256 of the cluster name mod N), each held "
        "by one replica through the Lease fleet-shard-<i> in the hub namespace; replicas share "
        "them evenly and take over a dead replica's within --lease-duration. The holder of "
        "shard 0 also runs the ApplicationSet controller. Default: --workers (1 for one "
        "process: leader election, one active replica). With several pods, set it to the "
        "total number of workers or more, the same on every pod",
    )
    run.add_argument(
        "--replica-id",
        default=None,
        metavar="ID",
        help="this replica's identity in the Leases, unique among the running replicas "
        "(default: hostname-pid); workers are ID-w0, ID-w1, ...",
    )
    run.add_argument(
        "--supervisor-fd",
        type=int,
        default=None,
        help=argparse.SUPPRESS,  # internal: a worker's socket to its supervisor
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
    run.add_argument(
        "--no-in-cluster",
        action="store_true",
        help="the hub is not a destination: https://kubernetes.default.svc and in-cluster are "
        "refused, and the clusters generator has no local cluster (Argo CD's "
        'cluster.inClusterEnabled: "false"). Default: the hub is that destination, reached '
        "with the controller's own hub credentials, unless a cluster Secret registers it",
    )
    run.add_argument(
        "--no-dashboard",
        action="store_true",
        help="serve no web dashboard (default: /dashboard/ on --listen, read-only unless a "
        "browser signs in with a hub token that hub RBAC allows to update Applications)",
    )
    run.add_argument(
        "--no-notifications",
        action="store_true",
        help="send no notifications (default: Argo CD-style notifications from the "
        "argocd-notifications-cm ConfigMap in the hub namespace; docs/notifications.md)",
    )
    run.add_argument(
        "--notification-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="one request to a notification receiver may take this long, then it is retried",
    )


def default_cache_dir() -> Path:
    """Absolute whatever the working directory: $XDG_CACHE_HOME/fleet/controller (when set and
    absolute, as the XDG spec requires), else ~/.cache/fleet/controller."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "fleet" / "controller"


def available_cpus() -> int:
    """The CPUs this process may use: os.cpu_count() narrowed by its CPU affinity and by a
    cgroup CPU quota (a container's CPU limit, rounded up). os.cpu_count() alone is the
    node's count: on a 64-core node a pod limited to 2 CPUs would start 64 workers."""
    count = os.cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        count = min(count, len(os.sched_getaffinity(0)) or count)
    quota = _cgroup_quota()
    if quota is not None:
        count = min(count, max(1, math.ceil(quota)))
    return max(1, count)


def _cgroup_quota() -> float | None:
    """CPUs of the cgroup quota (v2 cpu.max, else v1 cfs), None when unlimited or unknown."""
    try:
        quota, _, period = Path("/sys/fs/cgroup/cpu.max").read_text().partition(" ")
        if quota != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        v1 = Path("/sys/fs/cgroup/cpu")
        quota_us = int((v1 / "cpu.cfs_quota_us").read_text())
        period_us = int((v1 / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def worker_options(args: argparse.Namespace, skip: Collection[str]) -> list[str]:
    """`args` as `fleet controller run` options again (every option but those whose dest is
    in `skip`), for a worker process: built from the parsed values, so it does not matter how
    the command was invoked or abbreviated."""
    parser = argparse.ArgumentParser(add_help=False)
    add_run_arguments(parser)
    out: list[str] = []
    for action in parser._actions:
        if not action.option_strings or action.dest in skip:
            continue
        flag = next(o for o in action.option_strings if o.startswith("--"))
        value = getattr(args, action.dest, None)
        if action.nargs == 0:  # store_true
            if value:
                out.append(flag)
        elif isinstance(value, list):  # append
            for item in value:
                out += [flag, str(item)]
        elif value is not None:
            out += [flag, str(value)]
    return out


def _run(args: argparse.Namespace) -> int:
    workers = args.workers if args.workers is not None else available_cpus()
    if workers < 1:
        print(f"fleet: --workers {workers}: expected at least 1", file=sys.stderr)
        return 2
    if workers > 1:
        from fleet.controllers.workers import supervise

        return supervise(args, workers)
    from fleet.controllers.main import run_controller

    return run_controller(args)
