"""Self-heal: watch the managed kinds and correct (or report) drift as soon as it happens.

Why watches and not polling: drift-correction latency is bounded by one watch event plus a
dry-run and an apply (milliseconds), not by a resync period (Flux: the interval; Argo CD: 3 min
plus a 5 s self-heal delay), and an idle cluster costs nothing. One list-then-watch
(`fleet.kube.watch.list_and_watch`) per managed resource type, filtered server-side by the
tracking label. An event for a managed object is compared by dry-run apply; with `selfHeal` a
difference is re-applied, without it the object and the Application turn OutOfSync and nothing
is written. Events echoing fleet's own writes (same resourceVersion) are skipped.

Drift is seen even when it is not healed (selfHeal off, or no automated sync), as Argo CD's
live cache makes it seen: `on_change` is called when an object turns OutOfSync or back in sync
and the controller requeues the Application for a compare-only refresh that writes its status.
The work queue coalesces those keys, so a burst of events on a busy member costs one or two
refreshes, not one per event.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from fleet.kube import KubeError
from fleet.kube.watch import list_and_watch
from fleet.sync.diff import differs
from fleet.sync.discovery import Resource
from fleet.sync.engine import Planned, SyncEngine, shape
from fleet.sync.inventory import Key, describe, key_of
from fleet.sync.tracking import LABEL
from fleet.sync.watchhub import OnEvent, OnReset, StreamEnded, WatchHub

Obj = dict[str, Any]


class SelfHealer:
    """Run `await tg.start(SelfHealer(engine).run)`; cancel the group to stop."""

    def __init__(
        self,
        engine: SyncEngine,
        *,
        workers: int = 8,
        watches: WatchHub | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.on_change = on_change
        """Called when drift is seen but not healed, or an OutOfSync object is back in sync:
        the Application's status should be refreshed (the caller coalesces)."""
        self.watches = watches
        """Shared streams (the controller's); None: this healer opens its own watches."""
        self.corrections = 0
        self.detections = 0
        self._latest: dict[Key, Obj | None] = {}
        self._watched: set[Resource] = set()
        self._leaves: list[Callable[[], None]] = []
        self._ended: StreamEnded | None = None
        """A shared stream this healer joined ended: run raises it."""
        self._slots = anyio.Semaphore(workers)
        self._send: MemoryObjectSendStream[Key] | None = None

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Until cancelled; raises StreamEnded when a shared stream it follows ends (the
        caller starts a new healer, which joins a fresh stream)."""
        send, receive = anyio.create_memory_object_stream[Key](10_000)
        self._send = send
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._work, receive, tg)
                await self._start_watches(tg)
                task_status.started()
                while True:
                    await self.engine.kinds_changed.wait()
                    self.engine.kinds_changed = anyio.Event()
                    await self._start_watches(tg)
        finally:
            for leave in self._leaves:
                leave()
        if self._ended is not None:
            raise self._ended

    async def _start_watches(self, tg: TaskGroup) -> None:
        wanted = {p.resource for p in self.engine.desired.values() if p.resource is not None}
        for res in wanted - self._watched:
            self._watched.add(res)
            if self.watches is None:
                tg.start_soon(self._watch, res)
                continue

            def ended(error: str, res: Resource = res) -> None:
                self._ended = StreamEnded.of(res, error)
                tg.cancel_scope.cancel()

            on_reset, on_event = self._handlers(res)
            self._leaves.append(
                await self.watches.join(
                    self.engine.api, res, self.engine.spec.app.label_value,
                    on_reset, on_event, on_end=ended,
                )
            )  # fmt: skip

    def _handlers(self, res: Resource) -> tuple[OnReset, OnEvent]:
        """What this Application does with a listing and an event of `res`."""

        async def on_reset(items: list[Obj]) -> None:
            seen = set()
            for item in items:
                item.setdefault("apiVersion", res.api_version)
                item.setdefault("kind", res.kind)
                seen.add(key_of(item))
                self._offer(key_of(item), item)
            for key, plan in list(self.engine.desired.items()):
                if plan.resource == res and key not in seen:
                    self._offer(key, None)

        async def on_event(kind: str, obj: Obj) -> None:
            obj.setdefault("apiVersion", res.api_version)
            obj.setdefault("kind", res.kind)
            self._offer(key_of(obj), None if kind == "DELETED" else obj)

        return on_reset, on_event

    async def _watch(self, res: Resource) -> None:
        """Its own list-then-watch of `res` (no shared WatchHub)."""
        selector = f"{LABEL}={self.engine.spec.app.label_value}"
        on_reset, on_event = self._handlers(res)
        await list_and_watch(
            self.engine.api, res.collection(), on_reset=on_reset, on_event=on_event,
            label_selector=selector, managed_fields=True,
        )  # fmt: skip

    def _offer(self, key: Key, live: Obj | None) -> None:
        if key not in self.engine.desired:
            return
        if live is not None:
            rv = (live.get("metadata") or {}).get("resourceVersion")
            verified = self.engine.verified.get(key)
            if rv and verified is not None and rv == verified[1]:
                return  # the echo of fleet's own write
            known = self.engine.shapes.get(key)
            if verified is not None and known is not None and known == shape(live):
                # A status update (a rollout progressing): spec, labels and annotations are
                # as verified, so no dry run is needed to know it is still in sync.
                self.engine.verified[key] = (verified[0], str(rv or ""))
                return
        queued = key in self._latest
        self._latest[key] = live
        if not queued and self._send is not None:
            self._send.send_nowait(key)

    async def _work(self, receive: MemoryObjectReceiveStream[Key], tg: TaskGroup) -> None:
        async with receive:
            async for key in receive:
                await self._slots.acquire()
                tg.start_soon(self._heal, key)

    async def _heal(self, key: Key) -> None:
        try:
            live = self._latest.pop(key, None)
            plan = self.engine.desired.get(key)
            if plan is None or plan.resource is None:
                return
            await self._heal_one(plan, live)
        except KubeError as error:
            self.engine.log.warning("selfheal.failed", object=describe(key), error=error.message)
        finally:
            self._slots.release()

    async def _heal_one(self, plan: Planned, live: Obj | None) -> None:
        engine = self.engine
        if live is not None:
            check = Planned(plan.key, plan.obj, plan.resource, live, True, "", plan.options)
            predicted = await engine.predict(check)
            if not differs(predicted, live, engine.spec.ignore):
                engine.mark_verified(plan.key, json.dumps(plan.obj, sort_keys=True), live)
                back = engine.status.resources.get(plan.key)
                if back is not None and back.status == "OutOfSync" and self.on_change:
                    self.on_change()  # reverted by hand: the status turns Synced again
                return
        self.detections += 1
        state = engine.status.resources.get(plan.key)
        if not (engine.spec.automated and engine.spec.self_heal):
            if state is not None:
                state.status = "OutOfSync"
                if live is None:
                    state.health = "Missing"
            engine.status.sync_status = "OutOfSync"
            if self.on_change is not None:
                self.on_change()
            engine.log.info(
                "drift.detected",
                object=describe(plan.key),
                deleted=live is None,
                revision=engine.status.revision,
            )
            return
        async with engine.write_lock:
            fix = Planned(plan.key, plan.obj, plan.resource, live, True, "", plan.options)
            await engine.write(fix)
        self.corrections += 1
        if state is not None:
            state.status = "Synced"
        engine.refresh_sync_status()
        engine.log.info(
            "drift.corrected",
            object=describe(plan.key),
            deleted=live is None,
            revision=engine.status.revision,
        )
