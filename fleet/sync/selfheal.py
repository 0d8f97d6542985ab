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

from collections.abc import Callable
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

from fleet.kube import KubeError
from fleet.kube.watch import list_and_watch
from fleet.sync.diff import differs
from fleet.sync.discovery import Resource
from fleet.sync.engine import Planned, SyncEngine, fingerprint, shape
from fleet.sync.inventory import Key, describe, key_of
from fleet.sync.tracking import LABEL
from fleet.sync.watchhub import OnEvent, OnReset, StreamEnded, WatchHub

Obj = dict[str, Any]


class SelfHealer:
    """Follows one Application's kinds and heals (or reports) drift.

    Two ways to run it: `await tg.start(SelfHealer(engine).run)` in a task of its own (cancel
    the group to stop), or `await healer.attach(tg, on_end)`, which holds no task at all while
    nothing drifts: on shared watches (a WatchHub) it only registers callbacks, and heals run
    in `tg` while there are some. The controller attaches: two tasks per Application (a runner
    and a queue reader) were half of its tasks at 1,000 clusters.
    """

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
        self.workers = workers
        """Objects healed at once."""
        self.corrections = 0
        self.detections = 0
        self._latest: dict[Key, Obj | None] = {}
        """Objects waiting to be checked, with their latest live state (None: deleted)."""
        self._watched: set[Resource] = set()
        self._leaves: list[Callable[[], None]] = []
        """Leave a shared stream, or cancel an own watch."""
        self._tg: TaskGroup | None = None
        self._on_end: Callable[[StreamEnded], None] | None = None
        self._draining = False
        self._drain_scope: anyio.CancelScope | None = None
        self._detached = False

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """`attach` in a task of its own, until cancelled; raises StreamEnded when a shared
        stream it follows ends (the caller starts a new healer, which joins a fresh stream)."""
        ended: list[StreamEnded] = []
        try:
            async with anyio.create_task_group() as tg:

                def stop(error: StreamEnded) -> None:
                    ended.append(error)
                    tg.cancel_scope.cancel()

                await self.attach(tg, stop)
                task_status.started()
                await anyio.sleep_forever()
        finally:
            self.detach()
        if ended:
            raise ended[0]

    async def attach(self, tg: TaskGroup, on_end: Callable[[StreamEnded], None]) -> None:
        """Follow the engine's kinds (and those a later compare adds) from now on. Heals, and
        this healer's own watches if it has no WatchHub, run in `tg`. When a stream fails, the
        healer detaches and `on_end(error)` is called once: start a new healer to go on."""
        self._tg, self._on_end = tg, on_end
        self.engine.on_kinds_changed = self._kinds_changed
        await self._follow_kinds()

    def detach(self) -> None:
        """Leave every stream and cancel the heals in flight (idempotent)."""
        self._detached = True
        if self.engine.on_kinds_changed == self._kinds_changed:
            self.engine.on_kinds_changed = None
        leaves, self._leaves = self._leaves, []
        for leave in leaves:
            leave()
        if self._drain_scope is not None:
            self._drain_scope.cancel()

    def _end(self, error: StreamEnded) -> None:
        if self._detached:
            return
        self.detach()
        if self._on_end is not None:
            self._on_end(error)

    def _kinds_changed(self) -> None:
        if not self._detached and self._tg is not None:
            self._tg.start_soon(self._follow_new_kinds)

    async def _follow_new_kinds(self) -> None:
        try:
            await self._follow_kinds()
        except Exception as error:  # never takes the caller's task group down
            self._end(StreamEnded(f"self-heal failed: {error or type(error).__name__}"))

    async def _follow_kinds(self) -> None:
        wanted = {p.resource for p in self.engine.desired.values() if p.resource is not None}
        for res in wanted - self._watched:
            if self._detached or self._tg is None:
                return
            self._watched.add(res)
            if self.watches is None:
                scope = anyio.CancelScope()
                self._leaves.append(scope.cancel)
                self._tg.start_soon(self._watch, res, scope)
                continue

            def ended(error: str, res: Resource = res) -> None:
                self._end(StreamEnded.of(res, error))

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

    async def _watch(self, res: Resource, scope: anyio.CancelScope) -> None:
        """Its own list-then-watch of `res` (no shared WatchHub)."""
        selector = f"{LABEL}={self.engine.spec.app.label_value}"
        on_reset, on_event = self._handlers(res)
        with scope:
            try:
                await list_and_watch(
                    self.engine.api, res.collection(), on_reset=on_reset, on_event=on_event,
                    label_selector=selector, managed_fields=True,
                )  # fmt: skip
            except Exception as error:  # never takes the caller's task group down
                self._end(StreamEnded.of(res, str(error) or type(error).__name__))

    def _offer(self, key: Key, live: Obj | None) -> None:
        if key not in self.engine.desired or self._detached:
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
        self._latest[key] = live
        if not self._draining and self._tg is not None:
            self._draining = True
            self._tg.start_soon(self._drain)

    async def _drain(self) -> None:
        """Check the waiting objects, `workers` at a time; a task only while some wait."""
        try:
            with anyio.CancelScope() as self._drain_scope:
                while self._latest and not self._detached:
                    batch = [(k, self._latest.pop(k)) for k in list(self._latest)[: self.workers]]
                    async with anyio.create_task_group() as tg:
                        for key, live in batch:
                            tg.start_soon(self._heal, key, live)
        except Exception as error:  # a bug in one healer never takes the controller down
            self._end(StreamEnded(f"self-heal failed: {error or type(error).__name__}"))
        finally:
            self._draining, self._drain_scope = False, None

    async def _heal(self, key: Key, live: Obj | None) -> None:
        try:
            plan = self.engine.desired.get(key)
            if plan is None or plan.resource is None:
                return
            try:
                await self._heal_one(plan, live)
            finally:
                plan.release()  # rebuilt for the next heal (see Planned)
        except KubeError as error:
            self.engine.log.warning("selfheal.failed", object=describe(key), error=error.message)

    async def _heal_one(self, plan: Planned, live: Obj | None) -> None:
        engine = self.engine
        if live is not None:
            check = Planned(plan.key, plan.obj, plan.resource, live, True, "", plan.options)
            predicted = await engine.predict(check)
            if not differs(predicted, live, engine.spec.ignore):
                engine.mark_verified(plan.key, fingerprint(plan.obj), live)
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
