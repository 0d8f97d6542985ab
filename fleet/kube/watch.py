"""Own list-then-watch loop over raw JSON (no kubernetes_asyncio Watch).

Why not the library's Watch: it opens its own session per watch, retries a 410 once then
raises, hands bookmarks back as raw dicts and has no inactivity timeout (field notes). This
loop lists, watches from the list's resourceVersion with bookmarks and a server-side timeout,
re-lists on 410 or any error (with capped backoff), and treats a silent stream as dead after
`inactivity` seconds. The caller sees a full snapshot (`on_reset`) after every list and single
events (`on_event`) in between.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import anyio
import structlog
from kubernetes_asyncio.client import ApiClient

from fleet.kube import jsonbody, observe
from fleet.kube.calls import call, request_json
from fleet.kube.errors import Gone, KubeError, from_status
from generators.yamlio import DocumentShapeError, check_shape

log = structlog.get_logger("fleet.kube.watch")

WATCH_MAX_DEPTH = 256
"""Objects nested deeper are skipped (with a warning naming them): deep enough for any real
object, shallow enough that the watch's own handlers (comparisons, json.dumps, copies) cannot
hit the recursion limit. The API server accepts up to 10,000 levels in fields that preserve
unknown fields (Helm valuesObject, list generator elements). Objects under this bound but over
what their controller accepts are reported on the object itself (InvalidSpecError)."""

MIN_WATCH_TIMEOUT = 300
"""An idle watch stays open 5 to 10 minutes (jittered, as client-go's reflector), kept alive by
bookmarks, instead of being re-opened every minute: at 1,000 clusters x a dozen kinds, one-minute
watches alone are a few hundred requests a minute against the fleet's API servers."""


def watch_timeout() -> int:
    """A fresh server-side timeout for one watch request (jittered, so watches opened together
    do not all end together)."""
    return int(MIN_WATCH_TIMEOUT * (1 + random.random()))


OnReset = Callable[[list[dict[str, Any]]], Awaitable[None]]
OnEvent = Callable[[str, dict[str, Any]], Awaitable[None]]


async def _auth_headers(api: ApiClient) -> dict[str, str]:
    auth = await api.configuration.auth_settings()
    headers = dict(api.default_headers)
    headers["Accept"] = "application/json"
    token = auth.get("BearerToken", {}).get("value")
    if token:
        headers["Authorization"] = token
    return headers


def _readable(obj: Mapping[str, Any], path: str, raw: bytes = b"") -> bool:
    """False (and a warning naming the object) for an object nested deeper than the code
    reading it can safely walk: one such object is skipped, not allowed to stop the watch.

    `raw`, the JSON text it was parsed from: with fewer opening brackets than the bound, it
    cannot be nested that deep, and the walk (3 % of the controller's CPU at 1,000 clusters)
    is skipped."""
    if raw and raw.count(b"{") + raw.count(b"[") < WATCH_MAX_DEPTH:
        return True
    try:
        check_shape(obj, max_depth=WATCH_MAX_DEPTH, max_nodes=None, shared=False)
    except DocumentShapeError as error:
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, Mapping) else {}
        log.warning(
            "watch.object_skipped",
            path=path,
            name=str(meta.get("name") or ""),
            error=str(error),
        )
        return False
    return True


def _held(obj: Any, managed_fields: bool) -> Any:
    """`obj` as the caller keeps it: without `metadata.managedFields` (often most of an
    object's size, never read from a watch but by ignoreDifferences' managedFieldsManagers,
    whose callers ask for them) and with its short strings shared (jsonbody.share_strings)."""
    meta = obj.get("metadata") if isinstance(obj, dict) and not managed_fields else None
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return jsonbody.share_strings(obj)


async def _stream(
    api: ApiClient,
    path: str,
    query: Mapping[str, str],
    on_event: OnEvent,
    inactivity: float,
    managed_fields: bool = False,
) -> str:
    """Watch until the server ends the stream; returns the last resourceVersion seen."""
    resource_version = query["resourceVersion"]
    label = getattr(api, "label", "")
    heard = [n for n in (label, getattr(api, "heard_as", "")) if n]
    session: aiohttp.ClientSession = api.rest_client.pool_manager
    headers = await _auth_headers(api)

    async def open_() -> aiohttp.ClientResponse:
        started = time.monotonic()
        try:
            response = await session.get(
                str(api.configuration.host) + path,
                params=dict(query),
                headers=headers,
                timeout=aiohttp.ClientTimeout(sock_connect=5, sock_read=inactivity),
            )
        except BaseException as error:
            if label:
                observe.report(label, "GET", path, True, started, type(error).__name__)
            raise
        if label:
            observe.report(label, "GET", path, True, started, str(response.status))
        return response

    response = await call(open_, timeout=inactivity)
    async with response:
        if response.status >= 400:
            raise from_status(response.status, await response.read(), response.headers)
        while True:
            line = await call(response.content.readline, timeout=inactivity + 1)
            if not line:
                return resource_version
            if not line.strip():
                continue
            for name in heard:
                observe.heard(name)
            try:
                event = jsonbody.loads(line)
            except RecursionError:
                log.warning("watch.object_skipped", path=path, error="nested too deeply")
                continue
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                raise from_status(int(obj.get("code") or 500), obj)
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if isinstance(rv, str) and rv:
                resource_version = rv
            if kind == "DELETED" or (kind in ("ADDED", "MODIFIED") and _readable(obj, path, line)):
                # a deletion always passes: its name is all that counts
                await on_event(kind, _held(obj, managed_fields))


async def _relist(
    api: ApiClient,
    path: str,
    query: Mapping[str, str],
    on_reset: OnReset,
    timeout: float,
    managed_fields: bool,
) -> str:
    """LIST, hand the items to `on_reset`, return the list's resourceVersion. A frame of its
    own: the listing (every object as first read) is freed before the watch that follows,
    which holds its caller's frame for as long as it runs (on a restart over 2,000
    Applications, a second copy of each, stale after its first event)."""
    listing = await request_json(api, "GET", path, query=dict(query), timeout=timeout)
    items = [_held(i, managed_fields) for i in listing.get("items") or [] if _readable(i, path)]
    await on_reset(items)
    return str((listing.get("metadata") or {}).get("resourceVersion") or "")


async def list_and_watch(
    api: ApiClient,
    path: str,
    *,
    on_reset: OnReset,
    on_event: OnEvent,
    label_selector: str | None = None,
    server_timeout: int | None = None,
    inactivity: float = 90.0,
    request_timeout: float = 10.0,
    max_backoff: float = 30.0,
    managed_fields: bool = False,
) -> None:
    """Run forever (until cancelled), keeping the caller in sync with the collection `path`.

    `server_timeout` (default: `watch_timeout()` per request) bounds each watch request on the
    server; `inactivity` declares a stream dead when nothing, not even a bookmark, came for that
    long (API servers send one about every minute to a watch that asks). Objects come without
    `metadata.managedFields` unless `managed_fields` (every cache of them holds less)."""
    backoff = 0.5
    while True:
        try:
            query = {"labelSelector": label_selector} if label_selector else {}
            rv = await _relist(api, path, query, on_reset, request_timeout, managed_fields)
            backoff = 0.5
            while True:
                watch_query = {
                    **query,
                    "watch": "1",
                    "allowWatchBookmarks": "true",
                    "resourceVersion": rv,
                    "timeoutSeconds": str(server_timeout or watch_timeout()),
                }
                rv = await _stream(api, path, watch_query, on_event, inactivity, managed_fields)
        except Gone:
            log.debug("watch.relist", path=path)
            continue
        except KubeError as error:
            log.warning("watch.failed", path=path, error=error.reason, message=error.message)
        except ValueError:
            log.warning("watch.failed", path=path, error="InvalidJSON")
        await anyio.sleep(backoff)
        backoff = min(max_backoff, backoff * 2)
