"""Per-cluster request observation: latency and errors of every HTTP request a client sends.

Why at the aiohttp layer: every path to a cluster (typed API calls, `request_json`, watches)
ends in the client's one session, so a TraceConfig there sees them all without each call site
remembering to report. Clients built with a `label` (the cluster name) report to the observers
registered here; with no observer registered, tracing costs two clock reads per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import aiohttp

Observer = Callable[[str, str, float, str], None]
"""(cluster label, verb, seconds, outcome): the verb is the HTTP method, or WATCH for a watch
request (its seconds are until the stream opened); outcome is the status code as text ("200",
"409"), or the exception's class name when no response came ("ClientConnectorError",
"TimeoutError")."""

_observers: list[Observer] = []


def add_observer(observer: Observer) -> None:
    _observers.append(observer)


def remove_observer(observer: Observer) -> None:
    if observer in _observers:
        _observers.remove(observer)


def _verb(params: Any) -> str:
    watch = params.url.query.get("watch")
    return "WATCH" if watch in ("1", "true") else str(params.method)


def _report(label: str, method: str, started: float, outcome: str) -> None:
    elapsed = time.monotonic() - started
    for observer in list(_observers):
        observer(label, method, elapsed, outcome)


def trace_config(label: str) -> aiohttp.TraceConfig:
    """A TraceConfig reporting each request of a session under `label`."""
    config = aiohttp.TraceConfig()

    async def start(_s: aiohttp.ClientSession, ctx: SimpleNamespace, _p: Any) -> None:
        ctx.fleet_started = time.monotonic()

    async def end(_s: aiohttp.ClientSession, ctx: SimpleNamespace, params: Any) -> None:
        _report(label, _verb(params), ctx.fleet_started, str(params.response.status))

    async def failed(_s: aiohttp.ClientSession, ctx: SimpleNamespace, params: Any) -> None:
        _report(label, _verb(params), ctx.fleet_started, type(params.exception).__name__)

    config.on_request_start.append(start)
    config.on_request_end.append(end)
    config.on_request_exception.append(failed)
    config.freeze()
    return config
