"""WatchHub: one list-then-watch per (cluster client, resource type), shared by every
Application deployed there.

Why: a watch per Application and kind costs a held connection each (about 45 KiB of TLS
state in this process) and, past the client's pool size, starves the Application's own
requests. With 1,000 Applications of 2 kinds on 200 clusters that is 2,000 streams; shared, it
is 400. One stream watches everything carrying fleet's tracking label and hands each object to
the followers of its label value (the Application). A follower arriving late gets the current
snapshot at once; after a re-list (410, reconnect) every follower gets its new snapshot.

Use: `tg.start_soon(hub.run)` once; `await hub.follow(api, resource, app_label, on_reset,
on_event)` from each follower (returns only when cancelled; the stream stops when its last
follower leaves). `leave = await hub.join(..., on_end=...)` follows without a task of its own:
the self-healer of each Application follows each of its kinds, and a task per (Application,
kind) was a third of the controller's tasks at 1,000 clusters.

`prime(api, resources)` opens the streams of an Application's kinds before its first compare
and waits (bounded) until they have listed, holding each for `hold` seconds without followers:
the compare then reads the shared cache, where an object the listing does not hold is absent
(applied without a GET), and the sync's health gate reads rollouts from it instead of polling.
One LIST per (cluster, kind) instead of one per Application and kind.

A stream whose client is retired (credentials rotated, or the cluster's shard moved to another
replica) is ended by `drop(api)`, and one that fails ends on its own; either way its followers
get `StreamEnded`, and it never takes the hub's task group, and with it the controller, down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
import structlog
from anyio.abc import TaskGroup, TaskStatus
from kubernetes_asyncio.client import ApiClient

from fleet.kube.watch import list_and_watch
from fleet.sync.discovery import Resource
from fleet.sync.tracking import LABEL

log = structlog.get_logger("fleet.sync.watchhub")

Obj = dict[str, Any]
OnReset = Callable[[list[Obj]], Awaitable[None]]
OnEvent = Callable[[str, Obj], Awaitable[None]]


@dataclass(eq=False)
class _Follower:
    label: str
    on_reset: OnReset
    on_event: OnEvent
    on_end: Callable[[str], None] | None = None
    """Called with the error when the stream ends (`prime`'s placeholder has none)."""


@dataclass(eq=False)
class _Stream:
    api: ApiClient
    resource: Resource
    followers: list[_Follower] = field(default_factory=list)
    objects: dict[str, dict[tuple[str, str], Obj]] = field(default_factory=dict)
    """label value -> (namespace, name) -> latest object"""
    listed: bool = False
    settled: anyio.Event | None = None
    """Set once the stream has listed or ended; made only when `prime` waits for that (an
    event costs about 700 bytes, and most streams are never waited for)."""
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    done: bool = False
    error: str = ""


_HOLD = "\x00prime"
"""The label of `prime`'s placeholder follower: no tracking label value can contain a NUL."""


async def _ignore_reset(_items: list[Obj]) -> None:
    return None


async def _ignore_event(_kind: str, _obj: Obj) -> None:
    return None


async def _settled(stream: _Stream) -> None:
    """Return once `stream` has listed or ended."""
    if stream.listed or stream.done:
        return
    if stream.settled is None:
        stream.settled = anyio.Event()
    await stream.settled.wait()


def _settle(stream: _Stream) -> None:
    if stream.settled is not None:
        stream.settled.set()
        stream.settled = None


class StreamEnded(RuntimeError):
    """The shared watch a follower was on failed; the follower's owner starts a new one."""

    @classmethod
    def of(cls, resource: Resource, error: str) -> StreamEnded:
        return cls(f"watch of {resource.collection()} ended: {error}")


def _label(obj: Obj) -> str:
    return str(((obj.get("metadata") or {}).get("labels") or {}).get(LABEL) or "")


def _name(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


class WatchHub:
    def __init__(self, *, server_timeout: int | None = None) -> None:
        self.server_timeout = server_timeout
        self._streams: dict[tuple[int, Resource], _Stream] = {}
        self._tg: TaskGroup | None = None

    @property
    def streams(self) -> int:
        return len(self._streams)

    def snapshot(self, api: ApiClient, resource: Resource, label: str) -> list[Obj] | None:
        """The objects of `label` the stream for (api, resource) holds, or None when no such
        stream has listed (the caller LISTs instead)."""
        stream = self._streams.get((id(api), resource))
        if stream is None or not stream.listed:
            return None
        return list(stream.objects.get(label, {}).values())

    def drop(self, api: ApiClient) -> None:
        """End every stream on `api` now (its client is being retired, see
        ClusterManager.on_retire); their followers get StreamEnded and start over."""
        for key, stream in list(self._streams.items()):
            if stream.api is api:
                stream.error = "its cluster client was retired"
                stream.scope.cancel()
                del self._streams[key]

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            task_status.started()
            await anyio.sleep_forever()

    def _open(self, api: ApiClient, resource: Resource) -> tuple[tuple[int, Resource], _Stream]:
        if self._tg is None:
            raise RuntimeError("WatchHub.run must be started first")
        key = (id(api), resource)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(api, resource)
            self._tg.start_soon(self._watch, key, stream)
        return key, stream

    def _leave(self, key: tuple[int, Resource], stream: _Stream, follower: _Follower) -> None:
        if follower not in stream.followers:
            return
        stream.followers.remove(follower)
        if not stream.followers:
            stream.scope.cancel()
            if self._streams.get(key) is stream:
                del self._streams[key]

    async def follow(
        self, api: ApiClient, resource: Resource, label: str, on_reset: OnReset, on_event: OnEvent
    ) -> None:
        """`join` in a task of the caller's: returns only by StreamEnded or cancellation."""
        errors: list[str] = []
        ended = anyio.Event()

        def on_end(error: str) -> None:
            errors.append(error)
            ended.set()

        leave = await self.join(api, resource, label, on_reset, on_event, on_end)
        try:
            await ended.wait()
            raise StreamEnded.of(resource, errors[0])
        finally:
            leave()

    async def join(
        self,
        api: ApiClient,
        resource: Resource,
        label: str,
        on_reset: OnReset,
        on_event: OnEvent,
        on_end: Callable[[str], None],
    ) -> Callable[[], None]:
        """Follow as `follow` does, without a task: returns once the current snapshot (if
        listed) was handed to `on_reset`, with the function that leaves. When the stream ends,
        `on_end(error)` is called once; the caller leaves and starts over (StreamEnded.of)."""
        key, stream = self._open(api, resource)
        follower = _Follower(label, on_reset, on_event, on_end)
        stream.followers.append(follower)
        try:
            if stream.listed:
                await on_reset(list(stream.objects.get(label, {}).values()))
        except BaseException:
            self._leave(key, stream, follower)
            raise
        left = False

        def leave() -> None:
            nonlocal left
            if not left:
                left = True
                self._leave(key, stream, follower)

        return leave

    async def prime(
        self,
        api: ApiClient,
        resources: Iterable[Resource],
        *,
        wait: float = 10.0,
        hold: float = 60.0,
    ) -> None:
        """Open the streams of `resources` on `api` (unless open) and wait up to `wait` seconds
        until each has listed. A stream opened here stays `hold` seconds even without followers
        (the Application's self-healer follows it after the first sync). Never raises for a
        stream that fails or is slow: `snapshot` then answers None and the caller LISTs."""
        if self._tg is None:
            return
        loop = asyncio.get_running_loop()
        waiting: list[_Stream] = []
        for resource in resources:
            key, stream = self._open(api, resource)
            if not stream.followers:
                holder = _Follower(_HOLD, _ignore_reset, _ignore_event)
                stream.followers.append(holder)
                # a timer, not a task: at 1,000 clusters a task per stream held 2,000 tasks
                # through the first minute (leaving an ended stream changes nothing)
                loop.call_later(hold, self._leave, key, stream, holder)
            if not stream.listed:
                waiting.append(stream)
        with anyio.move_on_after(wait):
            for stream in waiting:
                await _settled(stream)

    async def _watch(self, key: tuple[int, Resource], stream: _Stream) -> None:
        async def reset(items: list[Obj]) -> None:
            grouped: dict[str, dict[tuple[str, str], Obj]] = {}
            for item in items:
                grouped.setdefault(_label(item), {})[_name(item)] = item
            stream.objects, stream.listed = grouped, True
            _settle(stream)
            for follower in list(stream.followers):
                await follower.on_reset(list(grouped.get(follower.label, {}).values()))

        async def event(kind: str, obj: Obj) -> None:
            label = _label(obj)
            bucket = stream.objects.setdefault(label, {})
            if kind == "DELETED":
                bucket.pop(_name(obj), None)
            else:
                bucket[_name(obj)] = obj
            for follower in list(stream.followers):
                if follower.label == label:
                    await follower.on_event(kind, obj)

        # When the hub itself is cancelled (the controller stops), followers stop with it: none
        # is told (2,000 self-healers would each log their stream's end on every shutdown).
        stopping = False
        with stream.scope:
            try:
                await list_and_watch(
                    stream.api,
                    stream.resource.collection(),
                    on_reset=reset,
                    on_event=event,
                    label_selector=LABEL,
                    server_timeout=self.server_timeout,
                    # no managedFields: an Application whose ignoreDifferences reads them
                    # (AppSpec.reads_managed_fields) watches and lists on its own
                )
            except anyio.get_cancelled_exc_class():
                stopping = not stream.scope.cancel_called  # not a drop or the last leave
                raise
            except Exception as error:  # one stream never takes the others down
                stream.error = str(error) or type(error).__name__
                log.warning(
                    "watchhub.stream_failed",
                    resource=stream.resource.collection(),
                    error=stream.error,
                )
            finally:
                if self._streams.get(key) is stream:
                    del self._streams[key]  # a new follower opens a fresh stream
                stream.done = True
                _settle(stream)
                for follower in [] if stopping else list(stream.followers):
                    if follower.on_end is not None:
                        follower.on_end(stream.error or "the watch stopped")
