"""One cluster's objects, resourceVersion counter, event log and watch fan-out.

Everything runs on the event loop without awaiting inside a write, so a write and the events it
emits are atomic with respect to every reader and no locks are needed. Stored objects are never
mutated in place: a write stores a new dict, so readers may hold on to what they got.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from fleet.sim.jsonutil import dumps

JSON = dict[str, Any]
ObjKey = tuple[str, str, str]  # (group-resource, namespace, name)
_JSON_CACHED_EVENTS = 64


class Event:
    """A change to one object; `prev` is the object before it (for selector transitions)."""

    __slots__ = ("_json", "gr", "namespace", "obj", "prev", "rv", "type")

    def __init__(
        self, rv: int, gr: str, namespace: str, type_: str, obj: JSON, prev: JSON | None
    ) -> None:
        self.rv = rv
        self.gr = gr
        self.namespace = namespace
        self.type = type_
        self.obj = obj
        self.prev = prev
        self._json: bytes | None = None

    def object_json(self) -> bytes:
        """The object serialized once, however many watchers receive it."""
        if self._json is None:
            self._json = dumps(self.obj)
        return self._json


class Watcher:
    """A subscription to one resource's events (optionally one namespace)."""

    __slots__ = ("gr", "namespace", "queue")

    def __init__(self, gr: str, namespace: str | None) -> None:
        self.gr = gr
        self.namespace = namespace
        # None in the queue tells the watch to end (fault injection, shutdown)
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()


def meta(obj: JSON) -> JSON:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


class Store:
    def __init__(self, retention: int = 10_000) -> None:
        self.rv = 0
        self.compacted_rv = 0
        self._objects: dict[str, dict[tuple[str, str], JSON]] = {}
        self._events: deque[Event] = deque(maxlen=max(1, retention))
        self._watchers: dict[str, set[Watcher]] = {}
        self._uids: dict[str, ObjKey] = {}
        self._dependents: dict[str, set[ObjKey]] = {}
        self.listeners: list[Callable[[Event], None]] = []

    # reads

    def get(self, gr: str, namespace: str, name: str) -> JSON | None:
        bucket = self._objects.get(gr)
        return bucket.get((namespace, name)) if bucket else None

    def items(self, gr: str, namespace: str | None = None) -> list[JSON]:
        """Objects sorted by namespace then name (the order of etcd keys)."""
        bucket = self._objects.get(gr)
        if not bucket:
            return []
        keys = sorted(k for k in bucket if namespace is None or k[0] == namespace)
        return [bucket[k] for k in keys]

    def namespaced_items(self, namespace: str) -> Iterator[tuple[str, JSON]]:
        for gr, bucket in list(self._objects.items()):
            for (ns, _), obj in list(bucket.items()):
                if ns == namespace:
                    yield gr, obj

    def resources(self) -> list[str]:
        return list(self._objects)

    def key_of_uid(self, uid: str) -> ObjKey | None:
        return self._uids.get(uid)

    def dependents(self, uid: str) -> list[ObjKey]:
        return sorted(self._dependents.get(uid, ()))

    # writes

    def write(self, gr: str, obj: JSON) -> Event:
        """Store `obj` (a fresh dict owned by the store from now on) with a new resourceVersion."""
        m = meta(obj)
        namespace, name = m.get("namespace", "") or "", m["name"]
        self.rv += 1
        m["resourceVersion"] = str(self.rv)
        bucket = self._objects.setdefault(gr, {})
        prev = bucket.get((namespace, name))
        bucket[(namespace, name)] = obj
        key = (gr, namespace, name)
        if prev is not None:
            self._unindex(prev, key)
        self._index(obj, key)
        return self._emit(Event(self.rv, gr, namespace, "MODIFIED" if prev else "ADDED", obj, prev))

    def remove(self, gr: str, namespace: str, name: str) -> Event | None:
        bucket = self._objects.get(gr)
        prev = bucket.pop((namespace, name), None) if bucket else None
        if prev is None:
            return None
        self._unindex(prev, (gr, namespace, name))
        self.rv += 1
        gone = dict(prev)
        gone["metadata"] = dict(meta(prev), resourceVersion=str(self.rv))
        return self._emit(Event(self.rv, gr, namespace, "DELETED", gone, prev))

    def _index(self, obj: JSON, key: ObjKey) -> None:
        m = meta(obj)
        uid = m.get("uid")
        if uid:
            self._uids[uid] = key
        for ref in m.get("ownerReferences") or ():
            owner = ref.get("uid") if isinstance(ref, dict) else None
            if owner:
                self._dependents.setdefault(owner, set()).add(key)

    def _unindex(self, obj: JSON, key: ObjKey) -> None:
        m = meta(obj)
        uid = m.get("uid")
        if uid and self._uids.get(uid) == key:
            del self._uids[uid]
        for ref in m.get("ownerReferences") or ():
            owner = ref.get("uid") if isinstance(ref, dict) else None
            deps = self._dependents.get(owner) if owner else None
            if deps is not None:
                deps.discard(key)
                if not deps:
                    del self._dependents[owner]  # type: ignore[arg-type]

    def compact(self) -> int:
        """Forget every past event, as etcd compaction does: resuming from an older
        resourceVersion then gets 410 Expired. Returns the revision compacted to."""
        self._events.clear()
        self.compacted_rv = self.rv
        return self.rv

    def _emit(self, event: Event) -> Event:
        if len(self._events) == self._events.maxlen:
            self.compacted_rv = self._events[0].rv
        self._events.append(event)
        if len(self._events) > _JSON_CACHED_EVENTS:
            # only recent events are sent to many watchers at once; older ones are replayed
            # rarely, so their serialized form is dropped to keep retention cheap
            self._events[-_JSON_CACHED_EVENTS - 1]._json = None
        for watcher in self._watchers.get(event.gr, ()):
            if watcher.namespace is None or watcher.namespace == event.namespace:
                watcher.queue.put_nowait(event)
        for listener in self.listeners:
            listener(event)
        return event

    # watch support

    def subscribe(self, gr: str, namespace: str | None) -> Watcher:
        watcher = Watcher(gr, namespace)
        self._watchers.setdefault(gr, set()).add(watcher)
        return watcher

    def unsubscribe(self, watcher: Watcher) -> None:
        watchers = self._watchers.get(watcher.gr)
        if watchers is not None:
            watchers.discard(watcher)

    def watch_count(self) -> int:
        return sum(len(watchers) for watchers in self._watchers.values())

    def close_watches(self) -> None:
        """End every open watch (the client sees the stream close, as on a server restart)."""
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.queue.put_nowait(None)

    def events_since(self, rv: int, gr: str, namespace: str | None) -> list[Event] | None:
        """Events after `rv` for a resource, or None when `rv` is older than the retained log."""
        if rv < self.compacted_rv:
            return None
        out: list[Event] = []
        for event in reversed(self._events):
            if event.rv <= rv:
                break
            if event.gr == gr and (namespace is None or event.namespace == namespace):
                out.append(event)
        out.reverse()
        return out
