"""The body of `fleet controller run`: the hub client, settings, signals, exit codes.

SIGTERM or SIGINT starts a graceful stop (in-flight reconciles finish within the grace period,
then watches stop); the process exits 0. Webhook secrets come from the environment
(FLEET_WEBHOOK_GITHUB_SECRET, ..._GITLAB_..., ..._GITEA_..., ..._BITBUCKET_SERVER_...), which the
Deployment fills from a Secret: never from arguments, which `ps` shows.

Under a supervisor (`--workers N`, fleet.controllers.workers) the process is one worker: it
reports its bound ports on the socket `--supervisor-fd` as soon as they listen, and stops
gracefully (releasing its Leases) when that socket reaches end of file, i.e. when the
supervisor is gone however it ended: a worker never outlives its supervisor to fight a new
one's workers over the same replica identities.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys

import anyio
import structlog

from fleet.api.group import flavour
from fleet.clusters.credentials import CredentialsError, ExecPolicy
from fleet.clusters.hub import hub_client
from fleet.clusters.manager import ManagerSettings
from fleet.controllers import gcpolicy
from fleet.controllers.runtime import Controller, ControllerSettings
from fleet.controllers.sharding import ShardSettings
from fleet.git.webhooks import WebhookSecrets
from fleet.notify.runner import NotifySettings
from fleet.server.limits import HttpLimits
from generators.limits import MIB, ExpansionLimits


def webhook_secrets_from_env() -> WebhookSecrets:
    def get(provider: str) -> str | None:
        return os.environ.get(f"FLEET_WEBHOOK_{provider}_SECRET") or None

    return WebhookSecrets(
        github=get("GITHUB"),
        gitlab=get("GITLAB"),
        gitea=get("GITEA"),
        bitbucket_server=get("BITBUCKET_SERVER"),
    )


def host_port(flag: str, value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{flag} {value!r}: expected HOST:PORT")
    return host or "0.0.0.0", int(port)


def settings_from_args(args: argparse.Namespace) -> ControllerSettings:
    host, port = host_port("--listen", str(args.listen))
    health = str(getattr(args, "health_listen", "off"))
    health_host, health_port = (
        ("", None) if health == "off" else host_port("--health-listen", health)
    )
    stall = float(getattr(args, "liveness_stall", 60.0))
    if stall <= 0:
        raise ValueError(f"--liveness-stall {stall}: expected a positive number of seconds")
    api = flavour(str(getattr(args, "api", None) or "fleet"))
    return ControllerSettings(
        cache_dir=args.cache_dir,
        namespace=args.namespace or api.namespace,
        flavour=api,
        argocd_tracking=str(getattr(args, "argocd_tracking_method", None) or "annotation"),
        listen_host=host,
        listen_port=port,
        health_host=health_host,
        health_port=health_port,
        liveness_stall=stall,
        resync_period=args.resync_period,
        git_poll_interval=args.git_poll_interval,
        reconciles=args.reconciles,
        per_cluster=args.per_cluster,
        deletion_budget=args.deletion_budget,
        shutdown_grace=args.shutdown_grace,
        appset_limits=ExpansionLimits(
            timeout=float(getattr(args, "appset_timeout", 60.0)),
            max_parameter_sets=int(getattr(args, "appset_max_parameter_sets", 100_000)),
            max_expansion_bytes=int(getattr(args, "appset_max_expansion_mib", 64)) * MIB,
        ),
        webhook_secrets=webhook_secrets_from_env(),
        sharding=sharding_from_args(args),
        manager=ManagerSettings(probe_interval=args.probe_interval),
        require_render_sandbox=bool(getattr(args, "require_render_sandbox", False)),
        allow_generator_repos_outside_project=bool(
            getattr(args, "allow_generator_repos_outside_project", False)
        ),
        http=HttpLimits(
            max_connections=args.http_max_connections,
            header_timeout=args.http_header_timeout,
            body_timeout=args.http_body_timeout,
            max_body=args.webhook_max_body,
        ),
        in_cluster_enabled=not getattr(args, "no_in_cluster", False),
        dashboard=not getattr(args, "no_dashboard", False),
        notifications=NotifySettings(
            enabled=not getattr(args, "no_notifications", False),
            request_timeout=float(getattr(args, "notification_timeout", 10.0)),
        ),
        exec_policy=ExecPolicy.from_flags(
            getattr(args, "exec_plugin_allow", None) or [],
            getattr(args, "exec_plugin_env", None) or [],
        ),
    )


def sharding_from_args(args: argparse.Namespace) -> ShardSettings:
    """Leases always: even one shard is leader election, so a rolling update's second pod
    (or a second replica started by mistake) waits instead of fighting the first."""
    shards = int(getattr(args, "shards", None) or 1)
    duration = float(getattr(args, "lease_duration", 15.0))
    if shards < 1:
        raise ValueError(f"--shards {shards}: expected at least 1")
    if duration < 1.0:
        raise ValueError(f"--lease-duration {duration}: expected at least 1 second")
    identity = getattr(args, "replica_id", None) or f"{socket.gethostname()}-{os.getpid()}"
    return ShardSettings(
        identity=identity, shards=shards, lease_duration=duration, renew_interval=duration / 3
    )


async def _signalled(stop: anyio.Event) -> None:
    """SIGTERM or SIGINT starts the graceful stop; more of them change nothing."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            stop.set()


async def _supervised(controller: Controller, fd: int, stop: anyio.Event) -> None:
    """Report the bound ports to the supervisor, then stop once it is gone (end of file)."""
    with socket.socket(fileno=fd) as link:
        link.setblocking(False)
        await controller.listening.wait()
        report = {"port": controller.port, "health_port": controller.health_port}
        link.send(json.dumps(report).encode() + b"\n")  # a few bytes into an empty buffer
        while True:
            await anyio.wait_readable(link)
            try:
                if not link.recv(4096):
                    break
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                break
    structlog.get_logger("fleet.controller").warning("controller.supervisor_gone")
    stop.set()


async def _main(args: argparse.Namespace, settings: ControllerSettings) -> None:
    async with hub_client(args.hub_kubeconfig, args.hub_context) as hub:
        controller = Controller(
            hub, settings, hub_factory=lambda: hub_client(args.hub_kubeconfig, args.hub_context)
        )
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(_signalled, stop)
            supervisor_fd = getattr(args, "supervisor_fd", None)
            if supervisor_fd is not None:
                tg.start_soon(_supervised, controller, supervisor_fd, stop)
            tg.start_soon(controller.run)
            await stop.wait()
            await controller.shutdown()
            tg.cancel_scope.cancel()


def run_controller(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_args(args)
        if getattr(args, "supervisor_fd", None) is not None and settings.sharding is not None:
            # N workers log into one stream: each line says which one wrote it.
            structlog.contextvars.bind_contextvars(replica=settings.sharding.identity)
        gcpolicy.tune()
        anyio.run(_main, args, settings)
    except (CredentialsError, ValueError) as error:
        print(f"fleet: {error}", file=sys.stderr)
        return 2
    return 0
