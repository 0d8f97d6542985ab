"""Per-cluster request observation: latency and errors of every HTTP request a client sends.

Where: every path to a cluster ends in one of three places, and each reports here: typed API
calls and `request_json` in the client's adaptive slot (fleet.kube.client.LimitedREST), watches
where they open (fleet.kube.watch), new connections in the client's connector
(`CountingConnector`). Clients built with a `label` (the cluster name) report to the observers
registered here; unlabelled ones (the hub's) report nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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


def report(label: str, method: str, path: str, watch: bool, started: float, outcome: str) -> None:
    """One request of `label`'s client, from `started` (time.monotonic()) to its answer:
    `path` is the API path without the client's host prefix (a query after it is ignored),
    `outcome` the status code as text or the exception's class name."""
    verb = "WATCH" if watch else method
    elapsed = time.monotonic() - started
    for observer in list(_observers):
        observer(label, verb, elapsed, outcome)
    if _resource_observers:
        verb, resource = resource_of(method, path.partition("?")[0], watch)
        for resource_observer in list(_resource_observers):
            resource_observer(label, verb, resource)


class CountingConnector(aiohttp.TCPConnector):
    """A connector that reports each new connection of its cluster (`("CONNECT",
    "connections")` to the resource observers): a TCP connect and a TLS handshake, the costliest
    part of a first request.

    Why not an aiohttp TraceConfig: a session with one traces every request through eight
    signals, each with its own parameter object, about 15 us of CPU per request (a tenth of a
    server-side apply's) to learn what these two hooks and `report` learn for nothing. It
    overrides `_wrap_create_connection`, which aiohttp's direct and proxied connections both
    go through (as aiohttp-socks' connectors do); should aiohttp rename it, the count stops
    and tests/clusters/test_request_resources.py fails."""

    def __init__(self, label: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.label = label

    async def _wrap_create_connection(self, *args: Any, **kwargs: Any) -> Any:
        connection = await super()._wrap_create_connection(*args, **kwargs)
        for observer in list(_resource_observers):
            observer(self.label, "CONNECT", "connections")
        return connection
