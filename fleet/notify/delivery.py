"""Delivery: a bounded queue of notifications, each rendered and sent with retries, apart from
the reconcile path.

Why a queue of its own: a receiver that fails or hangs must never slow a sync. The notifier
only puts a `Job` here (`submit` never waits: a full queue drops the job and counts it); one
task per job renders its templates in a worker thread and sends through the bounded HTTP
client, at most `concurrency` requests at once, retrying timeouts, connection errors, 429 and
5xx with capped, jittered exponential backoff (honouring Retry-After up to the cap). A
sleeping retry holds no request slot. The outcome goes back to the notifier (`on_done`),
which records what was sent on the Application.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import structlog
from anyio.abc import TaskStatus

from fleet.notify.config import ServiceConfig
from fleet.notify.http import Sender
from fleet.notify.metrics import NotifyMetrics
from fleet.notify.services import DeliveryError, build_request
from fleet.notify.subscriptions import Destination
from fleet.notify.templates import TemplateRenderError, render_notification

log = structlog.get_logger("fleet.notify.delivery")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    """Tries of one delivery in all (the first included)."""
    backoff: float = 1.0
    """Upper bound of the first wait; doubles each retry (full jitter: a random wait up to it)."""
    max_backoff: float = 60.0


@dataclass
class Job:
    app: str
    trigger: str
    key: str
    """The state key (fleet.notify.state) recorded once delivered."""
    destination: Destination
    service: ServiceConfig
    templates: Mapping[str, Mapping[str, Any]]
    send: tuple[str, ...]
    data: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Outcome:
    job: Job
    result: str
    """sent, failed or error (fleet.notify.metrics.RESULTS)."""
    message: str = ""


class Delivery:
    def __init__(
        self,
        sender: Sender,
        metrics: NotifyMetrics,
        on_done: Callable[[Outcome], None],
        *,
        policy: RetryPolicy | None = None,
        queue_size: int = 1000,
        concurrency: int = 16,
    ) -> None:
        self.sender = sender
        self.metrics = metrics
        self.on_done = on_done
        self.policy = policy or RetryPolicy()
        self._send, self._receive = anyio.create_memory_object_stream[Job](queue_size)
        self._slots = anyio.CapacityLimiter(concurrency)
        self._render = anyio.CapacityLimiter(2)
        self.pending = 0
        self.queue_size = queue_size

    def submit(self, job: Job) -> bool:
        """Queue `job` without waiting; False (and counted as dropped) when the queue is full."""
        if self.pending >= self.queue_size:
            self._count(job, "dropped")
            log.warning(
                "notify.dropped", app=job.app, trigger=job.trigger, service=job.service.name
            )
            return False
        try:
            self._send.send_nowait(job)
        except anyio.WouldBlock:
            self._count(job, "dropped")
            return False
        self.pending += 1
        self.metrics.queued.set(self.pending)
        return True

    def _count(self, job: Job, result: str) -> None:
        self.metrics.notifications.labels(job.trigger, job.service.name, result).inc()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        async with anyio.create_task_group() as tg, self._receive:
            task_status.started()
            async for job in self._receive:
                tg.start_soon(self._deliver, job)

    async def _deliver(self, job: Job) -> None:
        bound = log.bind(
            app=job.app,
            trigger=job.trigger,
            service=job.service.name,
            recipient=job.destination.recipient,
        )
        try:
            outcome = await self._attempts(job, bound)
        except Exception as error:  # a bug or an input not foreseen: this job only
            bound.exception("notify.delivery_error")
            outcome = Outcome(job, "error", f"internal error: {type(error).__name__}")
        finally:
            self.pending -= 1
            self.metrics.queued.set(self.pending)
        self._count(job, outcome.result)
        self.on_done(outcome)

    async def _attempts(self, job: Job, bound: Any) -> Outcome:
        try:
            async with self._render:
                rendered = await anyio.to_thread.run_sync(
                    render_notification, job.templates, job.send, job.data
                )
            request = build_request(job.service, rendered, job.destination.recipient)
        except (TemplateRenderError, DeliveryError) as error:
            bound.warning("notify.not_sent", error=str(error))
            return Outcome(job, "error", str(error))
        wait = self.policy.backoff
        for attempt in range(1, self.policy.attempts + 1):
            try:
                async with self._slots:
                    await self.sender.send(request)
            except DeliveryError as error:
                if not error.retryable or attempt == self.policy.attempts:
                    bound.warning("notify.failed", error=str(error), attempts=attempt)
                    return Outcome(job, "failed", f"{error} (after {attempt} attempts)")
                pause = random.uniform(0, wait)
                if error.retry_after is not None:
                    pause = max(pause, error.retry_after)
                pause = min(pause, self.policy.max_backoff)
                bound.info("notify.retry", error=str(error), attempt=attempt, wait=round(pause, 2))
                self.metrics.retries.labels(job.service.name).inc()
                await anyio.sleep(pause)
                wait = min(wait * 2, self.policy.max_backoff)
                continue
            bound.info("notify.sent", endpoint=request.describe(), attempts=attempt)
            return Outcome(job, "sent")
        raise AssertionError("unreachable")  # pragma: no cover
