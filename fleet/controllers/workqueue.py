"""A work queue in the spirit of client-go's: keys, not events, with per-key backoff and fairness.

Why keys: ten watch events for one Application while it is being synced must cause one more
reconcile, not ten. A key is queued at most once; a key added while its handler runs is run
again once afterwards ("dirty"). Handlers read the current state themselves, so coalescing
loses nothing.

Why groups: every key belongs to a group (the Application's destination cluster). At most
`per_group` handlers of one group run at once, and the total is capped by `workers`. Ready keys
of a saturated group wait in that group's own line, so a slow or dead cluster holds its own
slots and never the others'.

Why the handler returns a delay: a handler that wants to look again later (periodic resync, an
operation in progress) returns the number of seconds; `None` means "only on the next event". A
handler that raises is retried with exponential backoff per key (base doubling up to a cap, with
jitter); success resets it.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
import structlog
from anyio.abc import TaskStatus

log = structlog.get_logger("fleet.workqueue")

Handler = Callable[[str], Awaitable[float | None]]


@dataclass(frozen=True)
class Backoff:
    base: float = 0.5
    cap: float = 300.0
    jitter: float = 0.1
    """Up to this fraction is added at random, so keys failing together spread out."""

    def delay(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        raw: float = min(self.cap, self.base * 2.0 ** min(failures - 1, 30))
        return raw * (1 + random.random() * self.jitter)


class WorkQueue:
    """Run `handler(key)` for added keys: de-duplicated, per-group bounded, backed off on error."""

    def __init__(
        self,
        handler: Handler,
        *,
        workers: int = 16,
        per_group: int = 4,
        backoff: Backoff | None = None,
        name: str = "queue",
        on_wait: Callable[[float], None] | None = None,
    ) -> None:
        """`on_wait(seconds)` hears, for each key started, how long it waited past its due time
        for a free slot: the queue's backpressure, as a metric."""
        if workers < 1 or per_group < 1:
            raise ValueError("workers and per_group must be at least 1")
        self.handler = handler
        self.workers = workers
        self.per_group = per_group
        self.backoff = backoff or Backoff()
        self.name = name
        self._due: dict[str, float] = {}  # scheduled keys -> due time (monotonic)
        self._heap: list[tuple[float, int, str]] = []  # lazily invalidated against _due
        self._seq = itertools.count()
        self._group: dict[str, str] = {}
        self._waiting: dict[str, deque[str]] = {}  # ready keys of saturated groups, per group
        self._waiting_keys: set[str] = set()
        self._active: set[str] = set()
        self._dirty: dict[str, float] = {}  # keys added while active -> earliest due
        self._running: dict[str, int] = {}  # group -> running handlers
        self._failures: dict[str, int] = {}
        self._forgotten: set[str] = set()  # forgotten while running: do not requeue
        self._ready_at: dict[str, float] = {}  # keys in a group's line -> when they were due
        self._paused = False
        self._wake = anyio.Event()
        self.on_wait = on_wait
        self.processed = 0
        self.failed = 0
        self.coalesced = 0
        """Adds absorbed by a key already queued, ready or running: work shed by de-duplication."""

    # -- adding ----------------------------------------------------------------------------------

    def add(self, key: str, *, group: str | None = None, after: float = 0.0) -> None:
        """Queue `key` to run in `after` seconds (or sooner if already queued sooner)."""
        if group is not None:
            self._group[key] = group
        else:
            self._group.setdefault(key, "")
        self._forgotten.discard(key)
        due = anyio.current_time() + max(0.0, after)
        if key in self._active:
            if key in self._dirty:
                self.coalesced += 1
            self._dirty[key] = min(due, self._dirty.get(key, math.inf))
            return
        if key in self._waiting_keys:
            self.coalesced += 1
            return  # already ready; it runs as soon as its group has room
        current = self._due.get(key)
        if current is not None:
            self.coalesced += 1
            if current <= due:
                return
        self._due[key] = due
        heapq.heappush(self._heap, (due, next(self._seq), key))
        self._wake.set()

    def forget(self, key: str) -> None:
        """Drop a key that no longer exists: no pending run, no backoff memory."""
        self._due.pop(key, None)
        self._dirty.pop(key, None)
        self._failures.pop(key, None)
        if key in self._waiting_keys:
            self._waiting_keys.discard(key)
            self._ready_at.pop(key, None)
            line = self._waiting.get(self._group.get(key, ""))
            if line is not None and key in line:
                line.remove(key)
        if key in self._active:
            self._forgotten.add(key)
        else:
            self._group.pop(key, None)

    def pause(self) -> None:
        """Start nothing more (shutdown); running handlers finish, queued keys stay queued."""
        self._paused = True
        self._wake.set()

    def failures(self, key: str) -> int:
        return self._failures.get(key, 0)

    @property
    def depth(self) -> int:
        """Keys waiting to run (scheduled or ready), not counting running ones."""
        return len(self._due) + len(self._waiting_keys)

    @property
    def running(self) -> int:
        return len(self._active)

    def running_in(self, group: str) -> int:
        return self._running.get(group, 0)

    def busy_with(self, group: str) -> bool:
        """Keys of `group` are running, or ready and waiting for a slot (not: scheduled later)."""
        return group in self._running or bool(self._waiting.get(group))

    async def wait_idle(self, *, ready_only: bool = True) -> None:
        """Until nothing is running and nothing is ready (keys due later are ignored when
        `ready_only`): lets tests and the demo wait for a quiet point."""
        while True:
            now = anyio.current_time()
            scheduled = (
                any(due <= now for due in self._due.values()) if ready_only else bool(self._due)
            )
            if not self._active and not self._waiting_keys and not scheduled:
                return
            await anyio.sleep(0.01)

    # -- running ---------------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Dispatch until cancelled; handlers run in this call's task group."""
        async with anyio.create_task_group() as tg:
            task_status.started()
            while True:
                self._wake = anyio.Event()
                timeout = self._dispatch(tg)
                with anyio.move_on_after(timeout):
                    await self._wake.wait()

    def _has_room(self, group: str) -> bool:
        return len(self._active) < self.workers and self._running.get(group, 0) < self.per_group

    def _dispatch(self, tg: anyio.abc.TaskGroup) -> float:
        """Start what may start; return how long until the next scheduled key is due."""
        if self._paused:
            return math.inf
        # Keys already ready, held back only by their group's limit, go first (oldest first).
        for group, line in list(self._waiting.items()):
            while line and self._has_room(group):
                key = line.popleft()
                self._waiting_keys.discard(key)
                self._start(tg, key, self._ready_at.pop(key, anyio.current_time()))
            if not line:
                del self._waiting[group]
        now = anyio.current_time()
        while self._heap:
            due, _, key = self._heap[0]
            if self._due.get(key) != due:
                heapq.heappop(self._heap)  # superseded by an earlier add, or forgotten
                continue
            if due > now:
                return due - now
            heapq.heappop(self._heap)
            del self._due[key]
            group = self._group.get(key, "")
            if self._has_room(group):
                self._start(tg, key, due)
            else:
                self._waiting.setdefault(group, deque()).append(key)
                self._waiting_keys.add(key)
                self._ready_at[key] = due
        return math.inf

    def _start(self, tg: anyio.abc.TaskGroup, key: str, due: float) -> None:
        if self.on_wait is not None:
            self.on_wait(max(0.0, anyio.current_time() - due))
        group = self._group.get(key, "")
        self._active.add(key)
        self._running[group] = self._running.get(group, 0) + 1
        tg.start_soon(self._work, key, group, name=f"{self.name} {key}")

    async def _work(self, key: str, group: str) -> None:
        after: float | None = None
        try:
            after = await self.handler(key)
        except Exception as error:  # the handler's own errors: back off, never crash the queue
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            self.failed += 1
            after = self.backoff.delay(failures)
            log.warning(
                "workqueue.handler_failed",
                queue=self.name,
                key=key,
                failures=failures,
                retry_in=round(after, 2),
                error=str(error) or type(error).__name__,
            )
            self._dirty.pop(key, None)  # an event does not bypass the backoff of a failing key
        else:
            self._failures.pop(key, None)
        finally:
            self.processed += 1
            self._active.discard(key)
            self._running[group] -= 1
            if not self._running[group]:
                del self._running[group]
        dirty = self._dirty.pop(key, None)
        if key in self._forgotten:
            self._forgotten.discard(key)
            self._group.pop(key, None)
        else:
            if dirty is not None:
                self.add(key, after=max(0.0, dirty - anyio.current_time()))
            if after is not None:
                self.add(key, after=after)
        self._wake.set()
