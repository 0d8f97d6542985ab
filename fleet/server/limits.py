"""Bounds on what one HTTP client can take from the controller: connections, time, bytes, logs.

Why: the port faces whatever reaches it (webhook senders, scrapers, anyone on the pod network).
Left to its defaults, aiohttp keeps a connection that never completes its request for an hour
(keepalive_timeout 3630 s), accepts any number of them and logs a traceback per malformed
request. Each becomes file descriptors, memory and log volume taken from the controller: once
descriptors run out git fetches fail and /healthz stops answering, so the kubelet restarts a
controller that was only being held open.

The bounds (HttpLimits, each a `fleet controller run` flag):
- header deadline: a connection delivers a complete request head within `header_timeout` of
  connecting or of its previous response, or it is closed (aiohttp's own keep-alive timer is
  set just behind it, as a second line);
- connection cap: at most `max_connections` connections; one more closes the connection that
  has been idle the longest (connected or answered, no request running). A slowloris holds only
  idle connections and a probe sends its request at once, so the kubelet's probe always gets a
  slot; only when every slot runs a handler is the newcomer closed instead;
- body deadline, body size and webhook concurrency are enforced by the webhook handler
  (fleet.git.webhooks) with these limits: 408, 413 and 503.
Every drop is counted in `fleet_http_connections_dropped_total{reason}` and every error answer
in `fleet_http_requests_rejected_total{reason}`; the log gets one aggregated line per
`log_interval` at most, never one per client.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiohttp import web

from fleet.server.metrics import Metrics

log = structlog.get_logger("fleet.server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_connections: int = 256
    """Open connections at most (probes, scrapes and webhooks need a handful)."""
    header_timeout: float = 10.0
    """Seconds to deliver a complete request head, from connecting or the previous response."""
    body_timeout: float = 10.0
    """Seconds to deliver a request body (webhooks; senders post a few KiB at once)."""
    max_body: int = 1024 * 1024
    """Largest request body read (GitHub caps push payloads at 25 MB but sends far less)."""
    max_webhooks: int = 16
    """Webhook requests handled at once; more get 503 (senders retry)."""
    log_interval: float = 10.0
    """Seconds between two log lines about dropped or rejected clients."""

    def __post_init__(self) -> None:
        for name in ("max_connections", "header_timeout", "body_timeout", "max_body"):
            if getattr(self, name) <= 0:
                raise ValueError(f"HTTP limit {name} must be positive, got {getattr(self, name)}")
        if self.max_webhooks < 1:
            raise ValueError(f"HTTP limit max_webhooks must be at least 1, got {self.max_webhooks}")


class Tally:
    """Counts client misbehaviour by reason and logs it in aggregate: the first event after a
    quiet period at once, then at most one line per `interval` with the counts since."""

    def __init__(self, interval: float, metrics: Metrics | None) -> None:
        self._interval = interval
        self._metrics = metrics
        self._counts: Counter[str] = Counter()
        self._timer: asyncio.TimerHandle | None = None

    def dropped(self, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.http_dropped.labels(reason).inc()
        self._add(f"connection_{reason}")

    def rejected(self, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.http_rejected.labels(reason).inc()
        self._add(f"request_{reason}")

    def _add(self, key: str) -> None:
        self._counts[key] += 1
        if self._timer is None:
            self._flush()

    def _flush(self) -> None:
        self._timer = None
        if not self._counts:
            return
        log.warning(
            "http.clients_refused",
            counts=dict(self._counts),
            note=f"at most one line per {self._interval:g}s; totals in /metrics",
        )
        self._counts.clear()
        self._timer = asyncio.get_running_loop().call_later(self._interval, self._flush)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class _TallyHandler(logging.Handler):
    """aiohttp's per-request error log ("Error handling request" + traceback) -> the tally."""

    def __init__(self, tally: Tally) -> None:
        super().__init__(logging.WARNING)
        self._tally = tally

    def emit(self, record: logging.LogRecord) -> None:
        if "handling request" in str(record.msg):  # a malformed request: the client's fault
            self._tally.rejected("bad_request")
            return
        error = record.exc_info[1] if record.exc_info else None  # a handler's bug: name it
        self._tally.rejected(f"unhandled_{type(error).__name__ if error else 'error'}")


def aiohttp_logger(tally: Tally) -> logging.Logger:
    """A logger for aiohttp's server that feeds the tally. Made directly, not through
    logging.getLogger: it belongs to one server and must not reach the root handlers."""
    logger = logging.Logger("fleet.server.aiohttp", logging.WARNING)
    logger.addHandler(_TallyHandler(tally))
    logger.propagate = False
    return logger


class _Guarded(asyncio.Protocol):
    """One connection: aiohttp's protocol, with the guard told when it opens and closes."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self.guard = guard
        self.inner = inner
        self.transport: asyncio.BaseTransport | None = None
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.inner.connection_made(transport)
        self.guard.opened(self)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.closed(self)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class ConnectionGuard:
    """The header deadline and the connection cap over aiohttp's protocol factory.

    Connections are idle (waiting for a request head) or busy (a handler runs); the middleware
    moves them between the two. Idle ones are kept in the order they became idle, so the one
    to close when the cap is reached is the first.
    """

    def __init__(self, limits: HttpLimits, tally: Tally) -> None:
        self.limits = limits
        self.tally = tally
        self._idle: dict[_Guarded, None] = {}
        self._busy: set[_Guarded] = set()
        self._by_protocol: dict[object, _Guarded] = {}

    @property
    def open(self) -> int:
        return len(self._idle) + len(self._busy)

    def wrap(self, factory: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        def make() -> asyncio.Protocol:
            return _Guarded(self, factory())

        return make

    # -- connection events ------------------------------------------------------------------------

    def opened(self, conn: _Guarded) -> None:
        self._by_protocol[conn.inner] = conn
        self._idle_from_now(conn)
        if self.open <= self.limits.max_connections:
            return
        oldest = next(iter(self._idle))
        if oldest is conn:  # every other connection runs a handler: no room for this one
            self.tally.dropped("refused")
        else:
            self.tally.dropped("evicted")
        self._forget(oldest)
        oldest.close()

    def closed(self, conn: _Guarded) -> None:
        self._forget(conn)

    def _forget(self, conn: _Guarded) -> None:
        self._idle.pop(conn, None)
        self._busy.discard(conn)
        self._by_protocol.pop(conn.inner, None)
        if conn.timer is not None:
            conn.timer.cancel()
            conn.timer = None

    def _idle_from_now(self, conn: _Guarded) -> None:
        self._idle[conn] = None
        loop = asyncio.get_running_loop()
        conn.timer = loop.call_later(self.limits.header_timeout, self._expire, conn)

    def _expire(self, conn: _Guarded) -> None:
        conn.timer = None
        if conn in self._idle:
            self.tally.dropped("timeout")
            self._forget(conn)
            conn.close()

    # -- requests -----------------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        conn = self._by_protocol.get(request.protocol)
        if conn is None or conn not in self._idle:
            return await handler(request)
        self._idle.pop(conn)
        if conn.timer is not None:
            conn.timer.cancel()
            conn.timer = None
        self._busy.add(conn)
        try:
            return await handler(request)
        finally:
            if conn in self._busy:  # not closed meanwhile
                self._busy.discard(conn)
                self._idle_from_now(conn)


class GuardedSite(web.BaseSite):
    """A TCP site whose connections go through a ConnectionGuard."""

    __slots__ = ("_guard", "_host", "_port")

    def __init__(
        self, runner: web.BaseRunner, guard: ConnectionGuard, host: str, port: int
    ) -> None:
        super().__init__(runner)
        self._guard = guard
        self._host = host
        self._port = port

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def port(self) -> int:
        sockets = getattr(self._server, "sockets", None) or ()
        return int(sockets[0].getsockname()[1]) if sockets else self._port

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._guard.wrap(server),
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=True,
        )
