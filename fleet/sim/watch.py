"""`?watch=true`: newline-delimited JSON events streamed from a cluster's store.

The subscription is taken before the initial state is read, and both happen without an await
in between, so no event can fall between the snapshot and the stream. Events the selectors
stop (or start) matching become DELETED (or ADDED), as the API server's watch cache does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from fleet.sim import errors, tables
from fleet.sim.api import ClusterAPI, present
from fleet.sim.jsonutil import dumps
from fleet.sim.kinds import ResourceType
from fleet.sim.selectors import (
    FieldSelector,
    LabelSelector,
    parse_field_selector,
    parse_label_selector,
    selectable_fields,
)
from fleet.sim.store import Event, meta

JSON = dict[str, Any]
DEFAULT_TIMEOUT = 1800.0


def _line(type_: str, obj_json: bytes) -> bytes:
    return b'{"type":"' + type_.encode() + b'","object":' + obj_json + b"}\n"


class _Filter:
    __slots__ = ("fields", "labels")

    def __init__(self, labels: LabelSelector, fields: FieldSelector) -> None:
        self.labels = labels
        self.fields = fields

    @property
    def trivial(self) -> bool:
        return not self.labels.requirements and not self.fields.terms

    def matches(self, obj: JSON | None) -> bool:
        if obj is None:
            return False
        return self.labels.matches(meta(obj).get("labels")) and self.fields.matches(obj)

    def translate(self, event: Event) -> str | None:
        """The event type this watcher sees, or None when it sees nothing."""
        if self.trivial:
            return event.type
        if event.type == "ADDED":
            return "ADDED" if self.matches(event.obj) else None
        if event.type == "DELETED":
            return "DELETED" if self.matches(event.prev or event.obj) else None
        now, before = self.matches(event.obj), self.matches(event.prev)
        if now and before:
            return "MODIFIED"
        if now:
            return "ADDED"
        return "DELETED" if before else None


def _flag(params: Mapping[str, str], name: str) -> bool:
    return params.get(name, "").lower() in ("true", "1")


async def serve_watch(
    request: web.Request,
    api: ClusterAPI,
    rt: ResourceType,
    namespace: str | None,
    *,
    bookmark_interval: float,
) -> web.StreamResponse:
    params = request.query
    selector = _Filter(
        parse_label_selector(params.get("labelSelector")),
        parse_field_selector(params.get("fieldSelector"), selectable_fields(rt.group, rt.resource)),
    )
    try:
        timeout = float(params.get("timeoutSeconds") or DEFAULT_TIMEOUT)
    except ValueError:
        raise errors.bad_request("timeoutSeconds must be a number") from None
    bookmarks = _flag(params, "allowWatchBookmarks")
    send_initial = _flag(params, "sendInitialEvents")
    rv_param = params.get("resourceVersion", "")
    store = api.store
    since = 0
    if rv_param not in ("", "0"):
        try:
            since = int(rv_param)
        except ValueError:
            raise errors.bad_request(f"invalid resource version: {rv_param}") from None
    encoder = Encoder(
        rt,
        table=tables.wants_table(request.headers.get("Accept", "")),
        include=params.get("includeObject", ""),
    )
    watcher = store.subscribe(rt.gr, namespace)
    try:
        lines: list[bytes] = []
        if rv_param in ("", "0") or send_initial:
            for obj in store.items(rt.gr, namespace):
                if selector.matches(obj):
                    lines.append(_line("ADDED", encoder.encode(obj)))
            if send_initial and bookmarks:
                lines.append(_bookmark(rt, store.rv, initial_end=True))
        else:
            backlog = store.events_since(since, rt.gr, namespace)
            if backlog is None:
                gone = errors.expired(
                    f"too old resource version: {since} ({store.compacted_rv + 1})"
                )
                lines.append(_line("ERROR", dumps(gone.status())))
            else:
                lines.extend(_event_lines(backlog, encoder, selector))
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        if lines:
            await response.write(b"".join(lines))
        if lines and lines[-1].startswith(b'{"type":"ERROR"'):
            return response
        await _stream(
            response,
            watcher.queue,
            encoder,
            selector,
            store_rv=lambda: store.rv,
            timeout=timeout,
            bookmark_interval=bookmark_interval if bookmarks else 0,
        )
        return response
    finally:
        store.unsubscribe(watcher)


class Encoder:
    """Serializes watched objects: as stored JSON (cached per event) or as Table rows."""

    __slots__ = ("_first", "include", "rt", "table")

    def __init__(self, rt: ResourceType, *, table: bool = False, include: str = "") -> None:
        self.rt = rt
        self.table = table
        self.include = include
        self._first = True

    def encode(self, obj: JSON, event: Event | None = None) -> bytes:
        if self.table:
            list_meta = {"resourceVersion": meta(obj).get("resourceVersion", "")}
            body = tables.table(
                self.rt, [present(self.rt, obj)], list_meta, self.include, definitions=self._first
            )
            self._first = False
            return dumps(body)
        if event is not None and obj.get("apiVersion") == self.rt.api_version:
            return event.object_json()
        return dumps(present(self.rt, obj))


def _event_lines(events: list[Event], encoder: Encoder, selector: _Filter) -> list[bytes]:
    out = []
    for event in events:
        seen = selector.translate(event)
        if seen is not None:
            out.append(_line(seen, encoder.encode(event.obj, event)))
    return out


def _bookmark(rt: ResourceType, rv: int, *, initial_end: bool = False) -> bytes:
    m: JSON = {"resourceVersion": str(rv)}
    if initial_end:
        m["annotations"] = {"k8s.io/initial-events-end": "true"}
    return _line("BOOKMARK", dumps({"kind": rt.kind, "apiVersion": rt.api_version, "metadata": m}))


async def _stream(
    response: web.StreamResponse,
    queue: asyncio.Queue[Event | None],
    encoder: Encoder,
    selector: _Filter,
    *,
    store_rv: Callable[[], int],
    timeout: float,
    bookmark_interval: float,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    loop_time = clock
    deadline = loop_time() + timeout
    next_bookmark = loop_time() + bookmark_interval if bookmark_interval else float("inf")
    while True:
        now = loop_time()
        if now >= deadline:
            return
        if now >= next_bookmark:
            # A waiting event carries a newer resourceVersion than the bookmark would: send it
            # instead. Either way the next bookmark moves on, so the wait below is never given a
            # timeout of zero or less (which cancels the read before it happens: a livelock).
            next_bookmark = now + bookmark_interval
            if queue.empty():
                await response.write(_bookmark(encoder.rt, store_rv()))
                continue
        if queue.empty():
            try:
                event = await asyncio.wait_for(queue.get(), min(deadline, next_bookmark) - now)
            except TimeoutError:
                continue
        else:
            event = queue.get_nowait()
        if event is None:
            raise ConnectionResetError("watch closed by the simulator")
        batch = [event]
        while not queue.empty():
            more = queue.get_nowait()
            if more is None:
                raise ConnectionResetError("watch closed by the simulator")
            batch.append(more)
        lines = _event_lines(batch, encoder, selector)
        if lines:
            await response.write(b"".join(lines))
