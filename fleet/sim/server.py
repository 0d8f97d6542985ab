"""`SimServer`: many simulated clusters behind one TLS port, routed by `/clusters/<name>/`.

One port for all clusters keeps 1,000 clusters to one socket; kubectl, client-go and both
Python clients accept a server URL with a path prefix. With `port_per_cluster=True` each cluster
also gets a port of its own (same app, same paths), so the "refuse" fault can really stop
listening. Each request passes the cluster's fault gate, then bearer-token authentication,
then `routes.dispatch`.
"""

from __future__ import annotations

import asyncio
import math
import socket
import ssl
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog
from aiohttp import web

from fleet import tlsbuffer
from fleet.sim import errors, reviews
from fleet.sim.auth import Tokens
from fleet.sim.cluster import SimCluster
from fleet.sim.errors import ApiError
from fleet.sim.profile import DEFAULT_PROFILE, Profile, get_profile
from fleet.sim.routes import dispatch, error_response, json_response
from fleet.sim.status_agent import SettledFn, StatusFn

log = structlog.get_logger(__name__)

_UNAUTHORIZED = ApiError(401, "Unauthorized")
_MAX_BODY = 3 * 1024 * 1024 + 1024


class _Dropped(Exception):
    """The connection was dropped on purpose (fault injection); nothing is answered."""


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise _Dropped


DEFAULT_BOOKMARK_INTERVAL = 5.0
"""Seconds between the bookmarks of a watch that asks for them: short, so tests see them. A
real API server sends about one a minute (the benches ask for that)."""


class SimServer:
    """Simulated Kubernetes API servers for `clusters` clusters named cluster-1..cluster-N.

    Use as `async with SimServer(3) as sim:`; the server listens on `host` (a free port unless
    `port` is given) with TLS from a CA made at start.
    """

    clusters: dict[str, SimCluster]

    def __init__(
        self,
        clusters: int = 1,
        *,
        status_delay: float = 0.2,
        host: str = "127.0.0.1",
        port: int | None = None,
        kubeconfig_dir: Path | None = None,
        watch_retention: int = 10_000,
        bookmark_interval: float = DEFAULT_BOOKMARK_INTERVAL,
        names: list[str] | None = None,
        status_functions: tuple[StatusFn, SettledFn] | None = None,
        port_per_cluster: bool = False,
        profile: str | Profile = DEFAULT_PROFILE,
    ) -> None:
        if not 0 < bookmark_interval < math.inf:
            # 0 or less sends bookmarks back to back: every watch that asks would spin a core
            raise ValueError(f"bookmark_interval {bookmark_interval}: expected positive seconds")
        #: what every cluster serves and starts with: "minimal" or "realistic" (fleet.sim.profile)
        self.profile = get_profile(profile)
        self.host = host
        self.port_per_cluster = port_per_cluster
        self.port = port or 0
        self.status_delay = status_delay
        self.watch_retention = watch_retention
        self.bookmark_interval = bookmark_interval
        self.status_functions = status_functions
        self.tokens = Tokens()
        self._given_kubeconfig_dir = kubeconfig_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.kubeconfig_dir = kubeconfig_dir or Path()
        self.ca_file = Path()
        self.ca_pem = b""
        self._runner: web.AppRunner | None = None
        self._ssl: ssl.SSLContext | None = None
        # per-cluster listeners (port_per_cluster): name -> [port, asyncio server or None]
        self._listeners: dict[str, list[Any]] = {}
        cluster_names = names or [f"cluster-{i}" for i in range(1, clusters + 1)]
        self.clusters: dict[str, SimCluster] = {n: SimCluster(self, n) for n in cluster_names}

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def add_cluster(self, name: str) -> SimCluster:
        cluster = self.clusters.get(name)
        if cluster is None:
            cluster = self.clusters[name] = SimCluster(self, name)
            if self.port_per_cluster and self._runner is not None:
                self._listen(name, 0)
        return cluster

    def port_of(self, name: str) -> int:
        """The port serving cluster `name` (the shared port unless `port_per_cluster`)."""
        listener = self._listeners.get(name)
        return int(listener[0]) if listener else self.port

    def _bind(self, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, port))
        sock.listen(1024)
        sock.setblocking(False)
        return sock

    def _listen(self, name: str, port: int) -> None:
        """Listen for one cluster; the socket listens at once, the accept loop starts soon."""
        assert self._runner is not None and self._runner.server is not None
        sock = self._bind(port)
        listener = self._listeners.setdefault(name, [0, None])
        listener[0] = sock.getsockname()[1]
        loop = asyncio.get_running_loop()
        task = loop.create_task(
            loop.create_server(self._runner.server, sock=sock, ssl=self._ssl, backlog=1024)
        )

        def started(done: asyncio.Task[asyncio.Server]) -> None:
            if not done.cancelled() and done.exception() is None:
                listener[1] = done.result()

        task.add_done_callback(started)

    def set_listening(self, name: str, listening: bool) -> None:
        """Stop (refuse) or resume listening on a cluster's own port; no-op on a shared port."""
        listener = self._listeners.get(name)
        if listener is None or self._runner is None:
            return
        if listening:
            if listener[1] is None:
                self._listen(name, int(listener[0]))
            return
        server, listener[1] = listener[1], None
        if server is not None:
            server.close()
        handler = self._runner.server
        for connection in handler.connections if handler is not None else ():
            transport = connection.transport
            # a connection already closing has no sockname any more: nothing to abort
            sockname = transport.get_extra_info("sockname") if transport is not None else None
            if transport is not None and sockname is not None and sockname[1] == listener[0]:
                transport.abort()

    async def start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="fleet-sim-")
        tmp = Path(self._tmp.name)
        self.kubeconfig_dir = self._given_kubeconfig_dir or tmp
        # imported here so that `import fleet.sim` works where `cryptography` is not installed
        from fleet.sim import tls

        material = await asyncio.to_thread(tls.generate)
        ca, cert, key = await asyncio.to_thread(tls.write_files, material, tmp / "pki")
        context = await asyncio.to_thread(tls.server_context, cert, key)
        self.ca_file, self.ca_pem = ca, material.ca_pem
        self._ssl = context
        tlsbuffer.install()  # each accepted connection would zero its own 256 KiB buffer
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_route("*", "/clusters/{cluster}", self._handle)
        app.router.add_route("*", "/clusters/{cluster}/{tail:.*}", self._handle)
        app.router.add_route("*", "/_sim/clusters/{cluster}/faults", self._handle_faults)
        app.router.add_route("*", "/{tail:.*}", self._handle_unprefixed)
        # handler_cancellation: a watch whose client went away is cancelled at once instead of
        # lingering (and queueing every event) until its timeout
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=1.0,
            handler_cancellation=True,
        )
        await self._runner.setup()
        sock = self._bind(self.port)
        self.port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock, ssl_context=context, backlog=1024)
        await site.start()
        if self.port_per_cluster:
            for name in self.clusters:
                self._listen(name, 0)
            await asyncio.sleep(0)
        log.debug("sim.started", url=self.url, clusters=len(self.clusters))

    async def close(self) -> None:
        for cluster in self.clusters.values():
            cluster.close()
        for listener in self._listeners.values():
            if listener[1] is not None:
                listener[1].close()
        self._listeners.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tmp is not None:
            await asyncio.to_thread(self._tmp.cleanup)
            self._tmp = None

    async def _handle_unprefixed(self, request: web.Request) -> web.StreamResponse:
        """Paths without `/clusters/<name>` (e.g. `kubectl get --raw /api`, which drops the
        server URL's path): served when the cluster is known from its own port."""
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        port = sockname[1] if sockname else None
        name = next((n for n, listener in self._listeners.items() if listener[0] == port), None)
        if name is None:
            return error_response(errors.resource_not_found())
        return await self._serve(self.clusters[name], request, request.match_info["tail"])

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        cluster = self.clusters.get(request.match_info["cluster"])
        if cluster is None:
            return error_response(errors.resource_not_found())
        return await self._serve(cluster, request, request.match_info.get("tail", ""))

    async def _serve(
        self, cluster: SimCluster, request: web.Request, tail: str
    ) -> web.StreamResponse:
        faults = cluster.faults
        try:
            if faults.refuse:
                _drop(request)
            if faults.hang:
                await faults.wait_unhung()
                _drop(request)
            if faults.latency:
                await asyncio.sleep(faults.latency)
            if faults.should_fail():
                return error_response(errors.internal("fault injected by fleet-sim"))
            role = self.tokens.identify(cluster.name, request.headers.get("Authorization"))
            if role is None:
                return error_response(_UNAUTHORIZED)
            if request.method == "POST" and tail.strip("/") in reviews.PATHS:
                body = reviews.review(
                    self.tokens, cluster.name, role, tail.strip("/"), await request.read()
                )
                return json_response(201, body)
            return await dispatch(cluster, role, request, tail)
        except ApiError as exc:
            return error_response(exc)
        except (_Dropped, ConnectionResetError):
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=499)
        except web.HTTPException:
            raise
        except RecursionError:
            # a body nested deeper than Python's stack: refused quickly, and logged without a
            # thousand-frame traceback (rendering one froze the event loop for minutes)
            log.warning("sim.too_deep", cluster=cluster.name, path=request.path)
            return error_response(
                errors.bad_request(
                    "the request is nested too deeply for fleet-sim (about 400 levels at most)"
                )
            )
        except Exception as exc:  # a simulator bug must still answer like an API server
            log.exception("sim.internal_error", cluster=cluster.name, path=request.path)
            return error_response(errors.internal(f"{type(exc).__name__}: {exc}"))

    async def _handle_faults(self, request: web.Request) -> web.StreamResponse:
        """GET or PUT/PATCH `{"latency": 0, "error_rate": 0, "refuse": false, "hang": false}`."""
        cluster = self.clusters.get(request.match_info["cluster"])
        if cluster is None:
            return error_response(errors.resource_not_found())
        if self.tokens.identify(cluster.name, request.headers.get("Authorization")) != "admin":
            return error_response(_UNAUTHORIZED)
        if request.method in ("PUT", "PATCH", "POST"):
            try:
                values: Any = await request.json()
                if not isinstance(values, Mapping):
                    raise ValueError("body must be a JSON object")
                if request.method == "PUT":
                    cluster.faults.clear()
                cluster.faults.update(values)
            except ValueError as exc:
                return error_response(errors.bad_request(str(exc)))
        elif request.method != "GET":
            return error_response(ApiError(405, "use GET, PUT or PATCH"))
        return json_response(200, cluster.faults.to_dict())
