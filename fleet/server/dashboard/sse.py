"""Server-sent events: one stream per browser, fed from the Store's changes, never the hub.

Changes are coalesced: the hub gathers them for `interval` (default 0.1 s) and sends every
subscriber one `changes` event with the latest payload of each changed object, so a
convergence touching 10,000 Applications costs each browser a few events a second, not 10,000.
A browser that cannot keep up (its buffer full) is disconnected; EventSource reconnects on its
own and the page reloads what it shows, so nothing is silently lost.
"""

from __future__ import annotations

import json
import math
from typing import Any

import anyio
import structlog
from aiohttp import web
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from fleet.server.dashboard.model import Store

log = structlog.get_logger("fleet.server.dashboard")

KEEPALIVE = 15.0
"""Seconds between comment lines on a quiet stream (proxies close silent connections)."""


class Busy(Exception):
    """Too many browsers are subscribed already (each holds a connection slot)."""


class EventHub:
    def __init__(self, store: Store, *, interval: float = 0.1, max_subscribers: int = 64) -> None:
        self.interval = interval
        self.max_subscribers = max_subscribers
        self._pending: dict[tuple[str, str], Any] = {}
        self._wake = anyio.Event()
        self._subscribers: set[MemoryObjectSendStream[str]] = set()
        self.sent = 0
        """Batches sent (tests and the benchmark watch it)."""
        self._store = store
        store.listeners.append(self._changed)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def _changed(self, kind: str, name: str, payload: Any) -> None:
        if not self._subscribers:
            return
        self._pending[(kind, name)] = payload
        self._wake.set()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            await anyio.sleep(self.interval)  # gather what comes with it
            batch, self._pending = self._pending, {}
            if batch:
                self._send(_message(batch, self._store.counts()))

    def _send(self, message: str) -> None:
        for stream in list(self._subscribers):
            try:
                stream.send_nowait(message)
            except anyio.WouldBlock:
                log.info("dashboard.sse_slow_client_dropped")
                self._subscribers.discard(stream)
                stream.close()
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._subscribers.discard(stream)
        self.sent += 1

    def subscribe(self) -> MemoryObjectReceiveStream[str]:
        if len(self._subscribers) >= self.max_subscribers:
            raise Busy(f"{self.max_subscribers} browsers are following already")
        send, receive = anyio.create_memory_object_stream[str](32)
        self._subscribers.add(send)
        return receive

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """GET /dashboard/events: the stream of `changes` events."""
        try:
            receive = self.subscribe()
        except Busy as error:
            return web.Response(status=503, text=f"{error}; retry later\n")
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        try:
            await response.write(b"retry: 2000\nevent: hello\ndata: {}\n\n")
            async with receive:
                while True:
                    message = ""
                    with anyio.move_on_after(KEEPALIVE):
                        try:
                            message = await receive.receive()
                        except anyio.EndOfStream:
                            break  # dropped as too slow: the browser reconnects
                    await response.write((message or ": keepalive\n\n").encode())
        except (ConnectionResetError, anyio.BrokenResourceError):
            pass
        return response


def _message(batch: dict[tuple[str, str], Any], counts: dict[str, int]) -> str:
    grouped: dict[str, Any] = {"counts": counts}
    for (kind, name), payload in batch.items():
        grouped.setdefault(kind, {})[name] = payload
    data = json.dumps(grouped, separators=(",", ":"), allow_nan=False, default=_finite)
    return f"event: changes\ndata: {data}\n\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)
