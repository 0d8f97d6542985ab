"""The public ports of `fleet controller run --workers N`: one front for N worker processes.

Each worker is a full controller with its own loopback ports; the supervisor
(fleet.controllers.workers) serves what the pod exposes, within the same HttpLimits as a
single controller (fleet.server.limits):

- /healthz: healthy while every worker process is alive and its own health port says healthy
  (a worker still starting, before its ports listen, counts as healthy); /readyz: ready when
  every worker's /readyz is. Both are served on the health port and the main port, and their
  answers are reused for a second so a flood of probes never becomes N times as many requests.
- /metrics: every worker's metrics, each sample labelled `worker="w<k>"`, plus the
  supervisor's own (`worker="supervisor"`). Not prometheus_client's multiprocess mode: it keeps
  only Counter/Gauge/Histogram values in shared files, so the collectors computed at scrape
  time (queue depths, Applications by status, shards owned, each member's concurrency) would be
  lost, and it merges the processes into one figure where each worker's shards and clusters
  must stay apart. Merged textually by family, in one pass: no re-parsing of 100,000 samples.
- /api/webhook: the raw body and headers forwarded to every worker (each has its own
  repository cache and verifies the signature itself); the answer is that of the lowest
  numbered worker that answered. The body is bounded here as in a worker (size, time,
  concurrency), so a sender can make the workers hash at most `max_webhooks` bodies at once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import aiohttp
import anyio
import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fleet.git.webhooks import WEBHOOK_PATH
from fleet.server.app import TALLY_KEY
from fleet.server.limits import HttpLimits, Tally
from fleet.server.metrics import Metrics

log = structlog.get_logger("fleet.server.front")

HEALTH_TIMEOUT = 3.0
"""Seconds a worker's health port has to answer (it runs on the worker's liveness thread)."""
METRICS_TIMEOUT = 10.0
WEBHOOK_TIMEOUT = 10.0
"""Senders give up after about 10 s; a worker answers a webhook at once (fetches run later)."""
PROBE_REUSE = 1.0
"""Seconds an aggregated probe answer is reused."""
SUPERVISOR = "supervisor"

_NOT_FORWARDED = frozenset(
    h.lower()
    for h in (
        "Host",
        "Content-Length",
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
    )
)


@dataclass(frozen=True, slots=True)
class WorkerView:
    """What the front knows of one worker process."""

    name: str
    """w0, w1, ... (the `worker` label)."""
    alive: bool
    """The process is running."""
    port: int | None = None
    health_port: int | None = None
    """Both None until the worker reported them (it is starting)."""
    restarts: int = 0


class _WorkerCollector(Collector):
    """`fleet_worker_up` and `fleet_worker_restarts` of every worker, read at scrape time."""

    def __init__(self, workers: Callable[[], Sequence[WorkerView]]) -> None:
        self._workers = workers

    def collect(self) -> list[Metric]:
        up = GaugeMetricFamily(
            "fleet_worker_up", "1 while the worker process runs", labels=["worker"]
        )
        restarts = CounterMetricFamily(
            "fleet_worker_restarts",
            "Times the supervisor restarted a worker that had exited",
            labels=["worker"],
        )
        for view in self._workers():
            up.add_metric([view.name], 1 if view.alive else 0)
            restarts.add_metric([view.name], view.restarts)
        return [up, restarts]


def _relabel(line: str, worker: str) -> str:
    """A sample line of the text format with `worker="<worker>"` added first among its labels
    (unless it has a worker label already: the supervisor's per-worker figures)."""
    brace, space = line.find("{"), line.find(" ")
    if brace != -1 and (space == -1 or brace < space):
        if line.startswith(("worker=", "worker ="), brace + 1) or ',worker="' in line[brace:]:
            return line
        closing = line[brace + 1 :].lstrip().startswith("}")
        separator = "" if closing else ","
        return f'{line[: brace + 1]}worker="{worker}"{separator}{line[brace + 1 :]}'
    if space == -1:
        return line
    return f'{line[:space]}{{worker="{worker}"}}{line[space:]}'


def merge_expositions(parts: Sequence[tuple[str, str]]) -> str:
    """Text-format expositions (worker name, text) as one: each family once (its HELP and
    TYPE from the first part that has it), with the samples of every part, labelled."""
    headers: dict[str, list[str]] = {}
    samples: dict[str, list[str]] = {}
    for worker, text in parts:
        family = ""
        for line in text.splitlines():
            if not line:
                continue
            if line.startswith("# HELP "):
                family = line[7:].split(" ", 1)[0]
                if family not in headers:
                    headers[family] = [line]
                    samples[family] = []
                continue
            if line.startswith("# TYPE "):
                name = line[7:].split(" ", 1)[0]
                if name == family and len(headers[family]) == 1:
                    headers[family].append(line)
                continue
            if line.startswith("#") or not family:
                continue
            samples[family].append(_relabel(line, worker))
    out: list[str] = []
    for family, lines in headers.items():
        out += lines
        out += samples[family]
    return "\n".join(out) + "\n"


class _Reused:
    """An aggregated probe answer, asked at most once per PROBE_REUSE, one asking at a time."""

    def __init__(self) -> None:
        self._lock = anyio.Lock()
        self._at = -PROBE_REUSE
        self._answer: tuple[bool, str] = (False, "")

    async def get(self, ask: Callable[[], Awaitable[tuple[bool, str]]]) -> tuple[bool, str]:
        async with self._lock:
            if time.monotonic() - self._at > PROBE_REUSE:
                self._answer = await ask()
                self._at = time.monotonic()
            return self._answer


class Front:
    """The supervisor's HTTP applications; use within `async with Front(...) as front:`."""

    def __init__(
        self,
        workers: Callable[[], Sequence[WorkerView]],
        *,
        limits: HttpLimits,
        metrics: Metrics,
    ) -> None:
        self.workers = workers
        self.limits = limits
        self.metrics = metrics
        self.tally = Tally(limits.log_interval, metrics)
        metrics.registry.register(_WorkerCollector(workers))
        self._session: aiohttp.ClientSession | None = None
        self._probes: dict[str, _Reused] = {}
        self._webhooks = 0

    async def __aenter__(self) -> Front:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=4 * self.limits.max_webhooks),
            auto_decompress=False,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        self.tally.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("Front used outside `async with`")
        return self._session

    # -- applications ---------------------------------------------------------------------------

    def health_app(self) -> web.Application:
        app = web.Application()
        app[TALLY_KEY] = self.tally
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        return app

    def main_app(self) -> web.Application:
        app = web.Application(client_max_size=self.limits.max_body)
        app[TALLY_KEY] = self.tally
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_post(WEBHOOK_PATH, self._webhook)
        return app

    # -- probes ---------------------------------------------------------------------------------

    async def _healthz(self, _request: web.Request) -> web.Response:
        return await self._probe("/healthz", "unhealthy")

    async def _readyz(self, _request: web.Request) -> web.Response:
        return await self._probe("/readyz", "not ready")

    async def _probe(self, path: str, failing: str) -> web.Response:
        reused = self._probes.setdefault(path, _Reused())
        ok, detail = await reused.get(lambda: self._ask_all(path))
        if ok:
            return web.Response(text=f"ok\n{detail}")
        return web.Response(status=503, text=f"{failing}:\n{detail}")

    async def _ask_all(self, path: str) -> tuple[bool, str]:
        views = list(self.workers())
        answers: list[tuple[bool, str]] = [(False, "")] * len(views)

        async def ask(index: int, view: WorkerView) -> None:
            answers[index] = await self._ask(view, path)

        async with anyio.create_task_group() as tg:
            for index, view in enumerate(views):
                tg.start_soon(ask, index, view)
        ok = bool(views) and all(good for good, _ in answers)
        detail = "".join(f"{v.name}: {text}\n" for v, (_, text) in zip(views, answers, strict=True))
        return ok, detail

    async def _ask(self, view: WorkerView, path: str) -> tuple[bool, str]:
        if not view.alive:
            return False, "not running (restarting)"
        if view.health_port is None:
            # Starting: alive, ports not bound yet. Healthy (a restart would not help), not ready.
            return path == "/healthz", "starting"
        url = f"http://127.0.0.1:{view.health_port}{path}"
        try:
            with anyio.fail_after(HEALTH_TIMEOUT):
                async with self.session.get(url) as response:
                    text = (await response.content.read(512)).decode("utf-8", "replace")
                    return response.status == 200, text.strip().replace("\n", "; ")
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            return False, f"health port did not answer ({type(error).__name__})"

    # -- metrics --------------------------------------------------------------------------------

    async def _metrics(self, _request: web.Request) -> web.Response:
        views = [v for v in self.workers() if v.alive and v.port is not None]
        texts: dict[str, str] = {}

        async def scrape(view: WorkerView) -> None:
            url = f"http://127.0.0.1:{view.port}/metrics"
            try:
                with anyio.fail_after(METRICS_TIMEOUT):
                    async with self.session.get(url) as response:
                        if response.status == 200:
                            texts[view.name] = await response.text()
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                log.info("front.scrape_failed", worker=view.name, error=type(error).__name__)

        async with anyio.create_task_group() as tg:
            for view in views:
                tg.start_soon(scrape, view)
        parts = [(SUPERVISOR, self.metrics.render().decode())]
        parts += [(v.name, texts[v.name]) for v in views if v.name in texts]
        response = web.Response(body=merge_expositions(parts).encode())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    # -- webhooks -------------------------------------------------------------------------------

    def _refuse(self, reason: str, status: int, error: str) -> web.Response:
        self.tally.rejected(reason)
        response = web.json_response({"error": error}, status=status)
        if status in (408, 413, 503):
            response.force_close()
        return response

    async def _webhook(self, request: web.Request) -> web.Response:
        if self._webhooks >= self.limits.max_webhooks:
            return self._refuse("busy", 503, "too many webhooks at once; retry later")
        self._webhooks += 1
        try:
            return await self._forward(request)
        finally:
            self._webhooks -= 1

    async def _forward(self, request: web.Request) -> web.Response:
        limits = self.limits
        if request.content_length is not None and request.content_length > limits.max_body:
            return self._refuse("too_large", 413, "body too large")
        try:
            with anyio.fail_after(limits.body_timeout):
                body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._refuse("too_large", 413, "body too large")
        except TimeoutError:
            return self._refuse(
                "body_timeout", 408, f"body not received within {limits.body_timeout:g}s"
            )
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED}
        views = [v for v in self.workers() if v.alive and v.port is not None]
        answers: dict[str, tuple[int, bytes, str]] = {}

        async def send(view: WorkerView) -> None:
            url = f"http://127.0.0.1:{view.port}{WEBHOOK_PATH}"
            try:
                with anyio.fail_after(WEBHOOK_TIMEOUT):
                    async with self.session.post(url, data=body, headers=headers) as response:
                        text = await response.content.read(64 * 1024)
                        kind = response.headers.get("Content-Type", "application/json")
                        answers[view.name] = (response.status, text, kind)
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                log.warning("front.webhook_not_delivered", worker=view.name, error=repr(error))

        async with anyio.create_task_group() as tg:
            for view in views:
                tg.start_soon(send, view)
        for view in views:  # in worker order: the first that answered speaks for all
            if view.name in answers:
                status, text, kind = answers[view.name]
                response = web.Response(status=status, body=text)
                response.headers["Content-Type"] = kind
                return response
        return self._refuse("no_worker", 503, "no controller worker answered; retry later")
