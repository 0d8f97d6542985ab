"""Per-cluster request observation: latency and errors of every HTTP request a client sends.

Why at the aiohttp layer: every path to a cluster (typed API calls, `request_json`, watches)
ends in the client's one session, so a TraceConfig there sees them all without each call site
remembering to report. Clients built with a `label` (the cluster name) report to the observers
registered here; with no observer registered, tracing costs two clock reads per request.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import aiohttp

Observer = Callable[[str, str, float, str], None]
"""(cluster label, verb, seconds, outcome): the verb is the HTTP method, or WATCH for a watch
request (its seconds are until the stream opened); outcome is the status code as text ("200",
"409"), or the exception's class name when no response came ("ClientConnectorError",
"TimeoutError")."""

ResourceObserver = Callable[[str, str, str], None]
"""(cluster label, verb, resource): which API resource a request was for, to tell reads apart
(`LIST` is a GET of a collection; see `resource_of`); also `("CONNECT", "connections")` for
each new connection (a TCP connect and TLS handshake, the costliest part of a first request)."""

Hearer = Callable[[str], None]
"""(cluster label): a watch stream of that cluster's client delivered a line (an event or a
bookmark): the cluster is up and serving this client right now, with no request sent."""

_observers: list[Observer] = []
_hearers: list[Hearer] = []
_resource_observers: list[ResourceObserver] = []


def add_observer(observer: Observer) -> None:
    _observers.append(observer)


def remove_observer(observer: Observer) -> None:
    if observer in _observers:
        _observers.remove(observer)


def add_hearer(hearer: Hearer) -> None:
    _hearers.append(hearer)


def remove_hearer(hearer: Hearer) -> None:
    if hearer in _hearers:
        _hearers.remove(hearer)


def heard(label: str) -> None:
    """Called by fleet.kube.watch for every line a labelled client's watch reads."""
    for hearer in list(_hearers):
        hearer(label)


def add_resource_observer(observer: ResourceObserver) -> None:
    _resource_observers.append(observer)


def remove_resource_observer(observer: ResourceObserver) -> None:
    if observer in _resource_observers:
        _resource_observers.remove(observer)


_CLUSTER_LEVEL_SUBPATHS = frozenset({"status", "finalize"})


def resource_of(method: str, path: str, watch: bool) -> tuple[str, str]:
    """(verb, resource) of a request to the API path `path` (the client's host prefix removed):
    `("LIST", "apps/deployments")`, `("PATCH", "configmaps")`, `("GET", "namespaces")`,
    `("GET", "discovery")`, `("GET", "version")`. A GET of a collection is `LIST`, a watch is
    `WATCH`; a subresource is appended (`deployments/status`). Anything else is `other`."""
    parts = [p for p in path.split("/") if p]
    verb = "WATCH" if watch else method
    if parts[:1] == ["version"]:
        return verb, "version"
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    elif parts[:1] in (["api"], ["apis"]):
        return verb, "discovery"
    else:
        return verb, "other"
    if not rest:
        return verb, "discovery"
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in _CLUSTER_LEVEL_SUBPATHS:
        rest = rest[2:]
    resource = f"{group}/{rest[0]}" if group else rest[0]
    if len(rest) >= 3:
        resource += "/" + rest[2]
    if len(rest) == 1 and method == "GET" and not watch:
        verb = "LIST"
    return verb, resource


def _verb(params: Any) -> str:
    watch = params.url.query.get("watch")
    return "WATCH" if watch in ("1", "true") else str(params.method)


def _report(label: str, method: str, started: float, outcome: str) -> None:
    elapsed = time.monotonic() - started
    for observer in list(_observers):
        observer(label, method, elapsed, outcome)


def _report_resource(label: str, prefix: str, params: Any) -> None:
    if not _resource_observers:
        return
    path = params.url.path
    if prefix and path.startswith(prefix):
        path = path[len(prefix) :]
    verb, resource = resource_of(str(params.method), path, _verb(params) == "WATCH")
    for observer in list(_resource_observers):
        observer(label, verb, resource)


_sessions: weakref.WeakKeyDictionary[aiohttp.ClientSession, tuple[str, str]] = (
    weakref.WeakKeyDictionary()
)
"""session -> (cluster label, path prefix) of every observed session."""


async def _started(_s: aiohttp.ClientSession, ctx: SimpleNamespace, _p: Any) -> None:
    ctx.fleet_started = time.monotonic()


async def _ended(session: aiohttp.ClientSession, ctx: SimpleNamespace, params: Any) -> None:
    label, prefix = _sessions.get(session, ("", ""))
    _report(label, _verb(params), ctx.fleet_started, str(params.response.status))
    _report_resource(label, prefix, params)


async def _failed(session: aiohttp.ClientSession, ctx: SimpleNamespace, params: Any) -> None:
    label, prefix = _sessions.get(session, ("", ""))
    _report(label, _verb(params), ctx.fleet_started, type(params.exception).__name__)
    _report_resource(label, prefix, params)


async def _connected(session: aiohttp.ClientSession, _ctx: SimpleNamespace, _p: Any) -> None:
    label, _ = _sessions.get(session, ("", ""))
    for observer in list(_resource_observers):  # a new connection: a TLS handshake
        observer(label, "CONNECT", "connections")


_TRACE = aiohttp.TraceConfig()
_TRACE.on_request_start.append(_started)
_TRACE.on_request_end.append(_ended)
_TRACE.on_request_exception.append(_failed)
_TRACE.on_connection_create_end.append(_connected)
_TRACE.freeze()


def trace_config() -> aiohttp.TraceConfig:
    """The one TraceConfig of every observed session (a TraceConfig holds 16 signals: one
    per client was 16,000 of them at 1,000 clusters); `observe_session` names its session."""
    return _TRACE


def observe_session(session: aiohttp.ClientSession, label: str, prefix: str = "") -> None:
    """Report `session`'s requests (built with `trace_config()`) under `label`; `prefix` is
    the path of the client's host (`/clusters/c1` on fleet.sim), removed before
    `resource_of`."""
    _sessions[session] = (label, prefix.rstrip("/"))
