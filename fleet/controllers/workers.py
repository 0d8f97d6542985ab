"""`fleet controller run --workers N`: every core of the pod, through the sharding that spreads
replicas over pods.

Why processes: one Python process runs reconciles (renders, compares, JSON) on one core. N
worker processes are N controller replicas that join the same Lease-based sharding as
replicas on other machines (fleet.controllers.sharding), so one mechanism scales from one pod
to many: worker k is the replica `<replica-id>-w<k>`, holds its share of the shards, builds
clients only for its shards' clusters (the registry follows the shards) and, if it holds shard
0, runs the ApplicationSet controller, which therefore still runs exactly once.

The supervisor (this module) is small and does no reconciling:
- starts each worker as `python -m fleet.cli controller run ... --workers 1` with its replica id,
  loopback ports of its own choosing (reported back on a socket, so no port is guessed), and
  its own cache directory `<cache-dir>/w<k>`; restarts one that exits, after a capped
  exponential backoff (reset once it has run for STABLE seconds), and logs it. A worker that
  exits with code 2 (bad options) before it ever listened stops everything: a restart would
  fail the same way;
- forwards SIGTERM/SIGINT: every worker stops gracefully (finishes in-flight syncs, releases
  its Leases), and the supervisor exits 0 once they have exited, killing any still running
  after `--shutdown-grace` + STOP_MARGIN;
- owns the public ports (fleet.server.front): /healthz, /readyz, /metrics of every worker and
  webhooks forwarded to every worker, within the same HTTP limits as one controller.

A worker's end of the socket also tells it when the supervisor is gone (end of file), however
the supervisor ended: workers never outlive it (fleet.controllers.main).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import structlog
from aiohttp import web
from anyio.abc import Process

from fleet.controllers.commands import worker_options
from fleet.server.app import HttpServer
from fleet.server.dashboard import Dashboard, for_hub, run_for_hub
from fleet.server.front import Front, WorkerView
from fleet.server.limits import HttpLimits
from fleet.server.metrics import Metrics

log = structlog.get_logger("fleet.supervisor")

BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
STABLE = 60.0
"""Seconds a worker must run for its next restart to start from BACKOFF_BASE again."""
STOP_MARGIN = 15.0
"""Seconds on top of --shutdown-grace for a worker to release its Leases and close."""
REPORT_LIMIT = 4096
EXIT_BAD_OPTIONS = 2

WORKER_OWNED = frozenset(
    {
        "workers",
        "replica_id",
        "listen",
        "health_listen",
        "cache_dir",
        "shards",
        "supervisor_fd",
    }
)
"""Options the supervisor sets per worker; every other one is passed on as given."""


class SupervisorError(RuntimeError):
    """The supervisor cannot run (a worker's options are refused, a port cannot be bound)."""


@dataclass
class Worker:
    index: int
    identity: str
    cache_dir: Path
    process: Process | None = None
    port: int | None = None
    health_port: int | None = None
    restarts: int = 0
    ever_listened: bool = False
    log: structlog.typing.FilteringBoundLogger = field(init=False)

    def __post_init__(self) -> None:
        self.log = log.bind(worker=self.name, replica=self.identity)

    @property
    def name(self) -> str:
        return f"w{self.index}"

    def view(self) -> WorkerView:
        return WorkerView(
            self.name,
            alive=self.process is not None and self.process.returncode is None,
            port=self.port,
            health_port=self.health_port,
            restarts=self.restarts,
        )


def _host_port(flag: str, value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise SupervisorError(f"{flag} {value!r}: expected HOST:PORT")
    return host or "0.0.0.0", int(port)


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Supervisor:
    def __init__(self, args: argparse.Namespace, workers: int) -> None:
        if workers < 2:
            raise SupervisorError(f"--workers {workers}: a supervisor needs at least 2")
        self.args = args
        self.shards = int(args.shards) if args.shards is not None else workers
        if self.shards < 1:
            raise SupervisorError(f"--shards {self.shards}: expected at least 1")
        self.grace = float(args.shutdown_grace) + STOP_MARGIN
        self.listen = _host_port("--listen", str(args.listen))
        health = str(args.health_listen)
        self.health_listen = None if health == "off" else _host_port("--health-listen", health)
        self.limits = HttpLimits(
            max_connections=args.http_max_connections,
            header_timeout=args.http_header_timeout,
            body_timeout=args.http_body_timeout,
            max_body=args.webhook_max_body,
        )
        identity = args.replica_id or f"{socket.gethostname()}-{os.getpid()}"
        cache = Path(args.cache_dir)
        self.workers = [Worker(k, f"{identity}-w{k}", cache / f"w{k}") for k in range(workers)]
        self.options = worker_options(args, WORKER_OWNED)
        self.metrics = Metrics()
        self.stopping = anyio.Event()
        self.exit_code = 0
        self.port = 0
        self.health_port = 0

    def views(self) -> list[WorkerView]:
        return [w.view() for w in self.workers]

    def command(self, worker: Worker, fd: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "fleet.cli",
            "--log-level",
            str(getattr(self.args, "log_level", "info")),
            "controller",
            "run",
            *self.options,
            "--workers",
            "1",
            "--shards",
            str(self.shards),
            "--replica-id",
            worker.identity,
            "--listen",
            "127.0.0.1:0",
            "--health-listen",
            "127.0.0.1:0",
            "--cache-dir",
            str(worker.cache_dir),
            "--supervisor-fd",
            str(fd),
            "--no-dashboard",  # the supervisor serves it on the public port
        ]

    # -- running ------------------------------------------------------------------------------

    async def run(self) -> int:
        if self.shards < len(self.workers):
            log.warning(
                "supervisor.fewer_shards_than_workers",
                shards=self.shards,
                workers=len(self.workers),
                note="the workers without a shard stand by",
            )
        async with Front(self.views, limits=self.limits, metrics=self.metrics) as front:
            main_app = front.main_app()
            dashboard = self._dashboard(main_app)
            main = HttpServer(main_app, limits=self.limits, metrics=self.metrics)
            health = HttpServer(front.health_app(), limits=self.limits)
            try:
                self.port = await main.start(*self.listen)
                if self.health_listen is not None:
                    self.health_port = await health.start(*self.health_listen)
            except OSError as error:
                await main.stop()
                raise SupervisorError(f"cannot listen: {error.strerror or error}") from error
            log.info(
                "supervisor.started",
                workers=len(self.workers),
                shards=self.shards,
                port=self.port,
                health_port=self.health_port,
            )
            try:
                async with anyio.create_task_group() as outer:
                    outer.start_soon(self._signals)
                    if dashboard is not None:
                        outer.start_soon(run_for_hub, dashboard)
                    async with anyio.create_task_group() as keepers:
                        for worker in self.workers:
                            keepers.start_soon(self._keep, worker)
                    outer.cancel_scope.cancel()  # every worker has exited
            finally:
                with anyio.CancelScope(shield=True):
                    await main.stop()
                    if self.health_listen is not None:
                        await health.stop()
                    if dashboard is not None:
                        await dashboard.hub.close()
        log.info("supervisor.stopped", code=self.exit_code)
        return self.exit_code

    def _dashboard(self, app: web.Application) -> Dashboard | None:
        """The dashboard on the public port, over the supervisor's own hub watch (workers
        run with --no-dashboard); None when turned off or the hub cannot be reached."""
        args = self.args
        if getattr(args, "no_dashboard", False):
            return None
        from fleet.api.group import flavour
        from fleet.clusters.credentials import CredentialsError
        from fleet.clusters.hub import hub_client

        api = flavour(str(getattr(args, "api", None) or "fleet"))
        try:
            hub = hub_client(args.hub_kubeconfig, args.hub_context)
        except CredentialsError as error:
            log.warning("supervisor.no_dashboard", reason=str(error))
            return None
        return for_hub(app, hub, args.namespace or api.namespace, api)

    async def _signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for received in signals:
                if not self.stopping.is_set():
                    log.info("supervisor.stopping", signal=signal.Signals(received).name)
                    self.stopping.set()

    async def _stop_when_asked(self, worker: Worker, process: Process) -> None:
        """SIGTERM once the supervisor stops (the worker finishes in-flight syncs and releases
        its Leases); SIGKILL if it still runs after the grace period."""
        await self.stopping.wait()
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await anyio.sleep(self.grace)
        if process.returncode is None:
            worker.log.warning("worker.killed", reason=f"still running after {self.grace:g}s")
            process.kill()

    async def _keep(self, worker: Worker) -> None:
        """Run the worker, and run it again when it exits, until the supervisor stops."""
        backoff = BACKOFF_BASE
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                code = await self._run_once(worker)
            except OSError as error:  # could not even start the interpreter
                code = 127
                worker.log.error("worker.start_failed", error=str(error))
            if self.stopping.is_set():
                return
            if code == EXIT_BAD_OPTIONS and not worker.ever_listened:
                log.error(
                    "supervisor.worker_refused_options",
                    worker=worker.name,
                    note="a restart would fail the same way; see the worker's message above",
                )
                self.exit_code = EXIT_BAD_OPTIONS
                self.stopping.set()
                return
            if time.monotonic() - started >= STABLE:
                backoff = BACKOFF_BASE
            worker.restarts += 1
            worker.log.warning(
                "worker.exited", how=_exit_text(code), restart_in=backoff, restarts=worker.restarts
            )
            with anyio.move_on_after(backoff):
                await self.stopping.wait()
            backoff = min(backoff * 2, BACKOFF_CAP)

    async def _run_once(self, worker: Worker) -> int:
        ours, theirs = socket.socketpair()
        with ours:
            try:
                worker.cache_dir.mkdir(parents=True, exist_ok=True)
                process = await anyio.open_process(
                    self.command(worker, theirs.fileno()),
                    stdin=subprocess.DEVNULL,
                    stdout=None,  # the pod's log stream: every worker logs with its replica id
                    stderr=None,
                    pass_fds=(theirs.fileno(),),
                    start_new_session=True,  # signals come from the supervisor only
                )
            finally:
                theirs.close()
            worker.process = process
            worker.log.info("worker.started", pid=process.pid)
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._read_report, worker, ours)
                    tg.start_soon(self._stop_when_asked, worker, process)
                    code = await process.wait()
                    tg.cancel_scope.cancel()
            finally:
                worker.port = worker.health_port = None
            return code

    async def _read_report(self, worker: Worker, link: socket.socket) -> None:
        """The worker's ports, one JSON line, sent once they listen."""
        link.setblocking(False)
        received = b""
        while b"\n" not in received and len(received) < REPORT_LIMIT:
            await anyio.wait_readable(link)
            try:
                chunk = link.recv(REPORT_LIMIT)
            except (BlockingIOError, InterruptedError):
                continue
            if not chunk:
                return  # the worker ended before it listened
            received += chunk
        try:
            report = json.loads(received.split(b"\n", 1)[0])
            port, health_port = int(report["port"]), int(report["health_port"])
        except (ValueError, KeyError, TypeError):
            worker.log.error("worker.bad_report")
            return
        worker.port, worker.health_port, worker.ever_listened = port, health_port, True
        worker.log.info("worker.listening", port=port, health_port=health_port)


def supervise(args: argparse.Namespace, workers: int) -> int:
    """The body of `fleet controller run --workers N` (N > 1)."""
    try:
        supervisor = Supervisor(args, workers)
        return anyio.run(supervisor.run)
    except (SupervisorError, ValueError) as error:
        print(f"fleet: {error}", file=sys.stderr)
        return EXIT_BAD_OPTIONS
