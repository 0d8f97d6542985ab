"""The connection manager: one client per cluster, bounded concurrency, health probes, breakers.

Every other component gets cluster access from here (`async with manager.use(name) as api:` or
`manager.client(name)`) and never builds clients itself. Why one owner: per-cluster limits,
timeouts and the circuit breaker only protect the process if nobody goes around them, and a
cluster's client must be closed exactly once, when it is removed or its credentials change.

Each probe of a cluster is its own task inside the manager's task group (started by a timer:
an idle cluster holds no task), so a hanging cluster only ever delays its own probe (bounded by
`probe_timeout`). Probes run every `probe_interval`
(+-20% jitter) while the breaker is closed, stretched up to `idle_backoff` times for a Ready
cluster that nothing else uses and whose answer does not change, and on the breaker's
exponential backoff while it is open (each of those is the half-open trial). A global
`probe_limiter` keeps 1,000 clusters from opening 1,000 TLS handshakes at the same instant.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, KeysView
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from types import TracebackType

import anyio
import structlog
from anyio.abc import TaskGroup
from kubernetes_asyncio.client import ApiClient

from fleet.clusters.breaker import CircuitBreaker, State
from fleet.clusters.credentials import ExecProvider
from fleet.clusters.probe import ProbeResult, failure, probe
from fleet.kube import (
    CircuitOpen,
    ClusterNotRegistered,
    Credentials,
    KubeError,
    ServerError,
    Unauthorized,
    Unreachable,
    build_api_client,
    observe,
    translate,
)
from fleet.kube.adaptive import AdaptiveLimit
from fleet.kube.client import FleetApiClient
from fleet.kube.watch import MIN_WATCH_TIMEOUT

log = structlog.get_logger("fleet.clusters")


@dataclass(frozen=True, slots=True)
class ClusterHealth:
    """What the manager knows about a cluster; the source of its `status`."""

    reachable: bool | None = None
    ready: bool | None = None
    reason: str = "Pending"
    message: str = ""
    server_version: str | None = None
    latency_ms: int | None = None
    last_probe: float | None = None
    """Unix time of the last completed probe."""
    last_transition: float | None = None
    breaker: str = State.CLOSED.value
    probes: int = 0
    """Probes completed since registration (tests and the bench watch it advance)."""


NOT_OUTAGES = frozenset(
    {"429", "503", "504", "TimeoutError", "ServerTimeoutError", "CancelledError"}
)
"""Outcomes that are no sign of an outage: a server answering slowly or "not now" (load: the
adaptive limit backs off, and a probe would only add to it), or a request cancelled by its
caller (a timeout of the whole operation, a shutdown, a shard moving away)."""

StatusSink = Callable[[str, ClusterHealth], Awaitable[None]]

PASSIVE_WINDOW = 2 * MIN_WATCH_TIMEOUT + 90.0
"""Answered traffic this recent stands in for a probe: longer than a watch stays open (at most
2 x MIN_WATCH_TIMEOUT, then it is re-opened: traffic) plus its inactivity bound (a dead stream is
re-opened after 90 s, and a failing re-open asks for a probe), so a cluster with live watches is
not probed until passive_health."""


@dataclass(frozen=True, slots=True)
class ManagerSettings:
    concurrency_per_cluster: int = 8
    pool_limit: int = 8
    probe_interval: float = 10.0
    probe_timeout: float = 5.0
    probe_concurrency: int = 64
    breaker_threshold: int = 3
    breaker_base: float = 1.0
    breaker_cap: float = 60.0
    status_refresh: float = 60.0
    """Write status at least this often even when nothing changed (lastProbeTime, latency)."""
    check_access: bool = True
    access_check_interval: float = 300.0
    """A Ready cluster's probe checks read access (the probe's second request) only this often;
    between, `GET /version` proves reachability and authentication (a revoked token is a 401
    there too). A cluster that is not Ready is checked on every probe. At 1,000 clusters this
    halves the probes' requests; RBAC taken away shows as Forbidden within this interval
    (and at once on every sync that it breaks)."""
    passive_health: float = 300.0
    """Skip an active probe of a Ready cluster while its other traffic (syncs, watches) keeps
    succeeding, for up to this many seconds since the last real probe: an idle fleet is not
    polled by probes on top of its watches. 0 disables."""
    idle_backoff: float = 6.0
    """A Ready cluster that its probes keep finding unchanged and that nothing else uses (no
    Application there yet) is probed less often: the interval doubles with each unchanged
    probe, up to this many times probe_interval (60 s at the default 10 s). Every probe opens a
    TLS connection (the keep-alive is shorter than the interval), so 1,000 such clusters cost
    100 handshakes a second at 10 s; Argo CD does not monitor a cluster without Applications at
    all. A failure, a changed answer, failing traffic or new credentials start again at
    probe_interval. 1 disables."""
    keepalive: float = 2.0
    """Seconds an idle connection stays open: shorter than the probe interval, so an idle
    cluster holds no TLS connection (~50 KiB each) between probes; busy clusters keep theirs."""


WATCH_HEARD_WINDOW = 120.0
"""A watch line this recent stands in for a probe (API servers send a bookmark about every
minute to a watch that asks; fleet's watches ask)."""


class _Slot:
    """One ApiClient and how many users hold it; closed once retired and unused."""

    __slots__ = ("active", "api", "retired")

    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self.active = 0
        self.retired = False

    @asynccontextmanager
    async def held(self) -> AsyncIterator[ApiClient]:
        """The client, kept open while held even if it is retired meanwhile."""
        self.active += 1
        try:
            yield self.api
        finally:
            await self.release()

    async def release(self) -> None:
        self.active -= 1
        if self.retired and self.active == 0:
            await _close(self.api)

    async def retire(self) -> None:
        self.retired = True
        if self.active == 0:
            await _close(self.api)


async def _close(api: ApiClient) -> None:
    with anyio.CancelScope(shield=True), anyio.move_on_after(5):
        await api.close()


class _Entry:
    def __init__(
        self,
        name: str,
        credentials: Credentials,
        exec_provider: ExecProvider | None,
        settings: ManagerSettings,
    ) -> None:
        self.name = name
        self.credentials = credentials
        self.fingerprint = credentials.fingerprint()
        self.exec_provider = exec_provider
        self.slot = _Slot(
            build_api_client(
                credentials,
                pool_limit=settings.pool_limit,
                keepalive=settings.keepalive,
                label=name,
            )
        )
        self.limiter = anyio.CapacityLimiter(settings.concurrency_per_cluster)
        self.breaker = CircuitBreaker(
            threshold=settings.breaker_threshold,
            base=settings.breaker_base,
            cap=settings.breaker_cap,
        )
        self.health = ClusterHealth()
        self.check_access = True
        self.last_written = 0.0
        self.last_ok = 0.0
        """monotonic time of the last answered request (any client traffic, not 5xx/401/403)."""
        self.last_heard = -float("inf")
        """When a watch of this cluster last delivered a line (event or bookmark)."""
        self.last_probed = 0.0
        self.last_access_check = -float("inf")
        self.timer: asyncio.TimerHandle | None = None
        """The next probe's turn (see ClusterManager._arm)."""
        self.timer_woken = False
        """The armed turn answers a wake (failing traffic): later wakes change nothing."""
        self.probing: anyio.CancelScope | None = None
        """Set while a probe turn runs."""
        self.woken = False
        """A wake came while a probe ran: the next turn answers it."""
        self.stopped = False
        self.log = log.bind(cluster=name)
        self.probes = 0
        self.unchanged = 0
        """Probes in a row that found the cluster Ready and as before (see idle_backoff)."""


def _counts_against_breaker(error: BaseException) -> bool:
    """Only failures that say "this cluster is not serving" open the breaker; a 404 or 409 is
    an answer, and 401/403 are reported as not Ready without hammering the server."""
    return isinstance(error, Unreachable | ServerError)


class ClusterManager:
    """Use as `async with ClusterManager(settings, status_sink) as manager:`."""

    def __init__(
        self, settings: ManagerSettings | None = None, status_sink: StatusSink | None = None
    ) -> None:
        self.settings = settings or ManagerSettings()
        self.status_sink = status_sink
        self.busy_with: Callable[[str], bool] | None = None
        """Whether reconciles for a cluster (by name, or by server URL as an Application
        names it) run or wait for a slot now; set by the controller (see _deferrable)."""
        self.probes_deferred = 0
        self.probe_limiter = anyio.CapacityLimiter(self.settings.probe_concurrency)
        self._entries: dict[str, _Entry] = {}
        self._tg: TaskGroup | None = None
        self._on_retire: list[Callable[[ApiClient], None]] = []

    def on_retire(self, callback: Callable[[ApiClient], None]) -> None:
        """Call `callback(api)` when a client is retired (its cluster removed, its shard moved
        away, its credentials replaced). For holders of long-lived requests outside `use()`
        (shared watches): the client is closed once `use()` users are done, and aiohttp leaves
        a response still streaming on a closed session hanging until its read timeout."""
        self._on_retire.append(callback)

    async def _retire(self, slot: _Slot) -> None:
        for callback in list(self._on_retire):
            try:
                callback(slot.api)
            except Exception as error:  # a listener's bug never keeps a client open
                log.error("cluster.retire_listener_failed", error=repr(error))
        await slot.retire()

    async def __aenter__(self) -> ClusterManager:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        observe.add_observer(self._observed)
        observe.add_hearer(self._heard)
        return self

    def _heard(self, cluster: str) -> None:
        entry = self._entries.get(cluster)
        if entry is not None:
            entry.last_heard = time.monotonic()

    def _observed(self, cluster: str, _verb: str, _seconds: float, outcome: str) -> None:
        """Every request of a cluster's client: answered ones stand in for probes; a failed
        one (no answer, 5xx) asks for a real probe now, so passive health never hides an
        outage that traffic has already run into."""
        entry = self._entries.get(cluster)
        if entry is None:
            return
        answered = outcome.isdigit() and outcome[0] in "234"
        if answered and outcome not in ("401", "403", "429"):
            entry.last_ok = time.monotonic()
        elif outcome in NOT_OUTAGES:
            return
        elif not answered or outcome[0] == "5":
            self._wake(entry)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._tg is not None
        observe.remove_observer(self._observed)
        observe.remove_hearer(self._heard)
        for entry in list(self._entries.values()):
            self._stop(entry)
        try:
            return await self._tg.__aexit__(exc_type, exc, tb)
        finally:
            for name in list(self._entries):
                entry = self._entries.pop(name)
                await self._retire(entry.slot)
            self._tg = None

    # -- registration ----------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(self._entries)

    def known(self) -> KeysView[str]:
        """The registered names as a live view: membership without a sorted copy (checked on
        every request by /metrics' observers)."""
        return self._entries.keys()

    def concurrency(self) -> dict[str, AdaptiveLimit]:
        """Each member's adaptive request concurrency (fleet.kube.adaptive), for /metrics."""
        return {
            name: entry.slot.api.limit
            for name, entry in self._entries.items()
            if isinstance(entry.slot.api, FleetApiClient)
        }

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    async def upsert(
        self,
        name: str,
        credentials: Credentials,
        exec_provider: ExecProvider | None = None,
        *,
        check_access: bool = True,
    ) -> bool:
        """Register a cluster or replace its credentials. Returns True if a new client was
        built (new cluster or changed credentials); unchanged credentials are a no-op, so
        callers may resync freely. The old client is closed once its last user is done.

        `check_access=False`: probes prove reachability and authentication only (the hub as
        `in-cluster`, reached with the controller's own least-privilege identity, which may
        not list namespaces: a missing right shows on the Application that needs it)."""
        if self._tg is None:
            raise RuntimeError("ClusterManager used outside `async with`")
        entry = self._entries.get(name)
        if (
            entry is not None
            and entry.fingerprint == credentials.fingerprint()
            and entry.exec_provider is exec_provider  # a new provider: the plugin changed
        ):
            return False
        new = _Entry(name, credentials, exec_provider, self.settings)
        new.check_access = check_access
        if entry is None:
            self._entries[name] = new
            self._arm(new, 0.0, woken=False)
            new.log.info("cluster.registered", server=credentials.server)
            return True
        old_slot = entry.slot
        entry.slot, entry.credentials, entry.fingerprint = new.slot, credentials, new.fingerprint
        entry.exec_provider = exec_provider
        entry.breaker.record_success()
        entry.log.info("cluster.credentials_changed", server=credentials.server)
        await self._retire(old_slot)
        self.probe_soon(name)
        return True

    async def remove(self, name: str) -> None:
        """Forget a cluster: stop its probes and close its client (after in-flight users)."""
        entry = self._entries.pop(name, None)
        if entry is None:
            return
        self._stop(entry)
        await self._retire(entry.slot)
        entry.log.info("cluster.removed")

    def probe_soon(self, name: str) -> None:
        entry = self._entries.get(name)
        if entry is not None:
            self._wake(entry)

    # -- access ------------------------------------------------------------------------------

    def _entry(self, name: str) -> _Entry:
        entry = self._entries.get(name)
        if entry is None:
            raise ClusterNotRegistered(f"cluster {name!r} is not registered")
        return entry

    def health(self, name: str) -> ClusterHealth:
        return self._entry(name).health

    def healths(self) -> dict[str, ClusterHealth]:
        """Every registered member's health, for /metrics (read at scrape time)."""
        return {name: entry.health for name, entry in self._entries.items()}

    def client(self, name: str) -> ApiClient:
        """The cluster's client, or CircuitOpen at once while its breaker is not closed.

        Prefer `use()`, which also holds a concurrency slot and feeds the breaker."""
        entry = self._entry(name)
        if entry.breaker.state is not State.CLOSED:
            raise CircuitOpen(
                f"cluster {name!r} is unreachable; next probe in "
                f"{entry.breaker.seconds_until_retry():.1f}s"
            )
        return entry.slot.api

    @asynccontextmanager
    async def use(self, name: str) -> AsyncIterator[ApiClient]:
        """Hold one of the cluster's concurrency slots and its client for a unit of work.

        Failures inside are translated to KubeError; connection failures and 5xx count
        towards the cluster's breaker."""
        entry = self._entry(name)
        self.client(name)
        async with entry.limiter:
            self.client(name)  # the breaker may have opened while we waited for the slot
            async with entry.slot.held() as api:
                try:
                    yield api
                except Exception as exc:
                    mapped = translate(exc)
                    if mapped is not None and _counts_against_breaker(mapped):
                        self._record_failure(entry, mapped)
                    if mapped is not None and mapped is not exc:
                        raise mapped from None
                    raise

    # -- probing -----------------------------------------------------------------------------

    async def probe_now(self, name: str) -> ClusterHealth:
        """Probe one cluster immediately (tests, `fleet cluster add`) and return its health."""
        entry = self._entry(name)
        await self._probe_once(entry)
        return entry.health

    async def wait_for(
        self, name: str, predicate: Callable[[ClusterHealth], bool], timeout: float
    ) -> ClusterHealth:
        """Poll the in-memory health until `predicate` holds (TimeoutError otherwise)."""
        with anyio.fail_after(timeout):
            while True:
                entry = self._entries.get(name)
                if entry is not None and entry.health.last_probe and predicate(entry.health):
                    return entry.health
                await anyio.sleep(0.02)

    def _next_delay(self, entry: _Entry) -> float:
        if entry.probes == 0:
            return 0.0
        if entry.breaker.state is not State.CLOSED:
            return max(0.05, entry.breaker.seconds_until_retry())
        stretch = 1.0
        if entry.last_ok <= entry.last_probed:  # no traffic since (the probe's own is before)
            stretch = min(2.0**entry.unchanged, max(1.0, self.settings.idle_backoff))
        return self.settings.probe_interval * stretch * random.uniform(0.8, 1.2)

    # A cluster holds no task between probes: a timer starts each turn (1,000 clusters held
    # 1,000 sleeping tasks, about 6 KiB each).

    def _arm(self, entry: _Entry, delay: float, *, woken: bool) -> None:
        if entry.stopped:
            return
        if entry.timer is not None:
            entry.timer.cancel()
        entry.timer_woken = woken
        entry.timer = asyncio.get_running_loop().call_later(
            max(0.0, delay), self._turn_due, entry, woken
        )

    def _turn_due(self, entry: _Entry, woken: bool) -> None:
        entry.timer = None
        if entry.stopped or self._tg is None:
            return
        if not woken and self._alive_by_traffic(entry):  # a steady fleet: not even a task
            self._arm(entry, self._next_delay(entry), woken=False)
            return
        if not woken and self._deferrable(entry):
            self.probes_deferred += 1
            self._arm(entry, self._next_delay(entry), woken=False)
            return
        self._tg.start_soon(self._turn, entry, name=f"probe {entry.name}")

    async def _turn(self, entry: _Entry) -> None:
        """One probe, unless the breaker holds it back; then the next turn is armed."""
        entry.probing = anyio.CancelScope()
        try:
            with entry.probing:
                if entry.breaker.allow():
                    await self._probe_once(entry)
        finally:
            entry.probing = None
            if entry.woken:
                entry.woken = False
                self._wake(entry)
            else:
                self._arm(entry, self._next_delay(entry), woken=False)

    def _wake(self, entry: _Entry) -> None:
        """Failing traffic (or new credentials) asks for a probe: at most one per
        probe_interval, so an outage seen by many requests costs one probe."""
        if entry.stopped:
            return
        entry.unchanged = 0
        if entry.probing is not None:
            entry.woken = True
        elif entry.timer is None or not entry.timer_woken:
            due = entry.last_probed + self.settings.probe_interval - time.monotonic()
            self._arm(entry, due, woken=True)

    @staticmethod
    def _stop(entry: _Entry) -> None:
        entry.stopped = True
        if entry.timer is not None:
            entry.timer.cancel()
            entry.timer = None
        if entry.probing is not None:
            entry.probing.cancel()

    def _alive_by_traffic(self, entry: _Entry) -> bool:
        """A Ready cluster answering other requests needs no probe (until passive_health); one
        whose watches keep delivering (events, bookmarks) needs none at all: a steady fleet
        sends no request beyond its open watches. A watch that fails to re-open (a revoked
        token: 401) stops delivering, and probes resume within WATCH_HEARD_WINDOW."""
        now = time.monotonic()
        if (
            self.settings.passive_health <= 0
            or entry.health.ready is not True
            or entry.breaker.state is not State.CLOSED
        ):
            return False
        if now - entry.last_heard < WATCH_HEARD_WINDOW:
            return True
        return (
            entry.last_ok > entry.last_probed
            and now - entry.last_ok < max(self.settings.probe_interval, PASSIVE_WINDOW)
            and now - entry.last_probed < self.settings.passive_health
        )

    def _deferrable(self, entry: _Entry) -> bool:
        """A Ready cluster whose reconciles run or wait for a slot is about to be reached by
        them: a probe now would only add a request and a TLS handshake to a busy process (at
        1,000 clusters, 1,500 of each while 2,000 Applications converged). It is deferred,
        for at most passive_health since its last probe. A failure those reconciles meet
        wakes a probe at once (_wake), as it does for any traffic."""
        if (
            self.busy_with is None
            or self.settings.passive_health <= 0
            or entry.health.ready is not True
            or entry.breaker.state is not State.CLOSED
            or time.monotonic() - entry.last_probed >= self.settings.passive_health
        ):
            return False
        return self.busy_with(entry.name) or self.busy_with(entry.credentials.server)

    def _access_check_due(self, entry: _Entry) -> bool:
        if not (self.settings.check_access and entry.check_access):
            return False
        return (
            entry.health.ready is not True
            or time.monotonic() - entry.last_access_check >= self.settings.access_check_interval
        )

    async def _probe_once(self, entry: _Entry) -> None:
        entry.probes += 1
        check_access = self._access_check_due(entry)
        # held, so new credentials do not close the client under the probe
        async with entry.slot.held() as api, self.probe_limiter:
            try:
                result = await probe(
                    api, timeout=self.settings.probe_timeout, check_access=check_access
                )
            except KubeError as error:  # e.g. an exec plugin that failed (ExecError)
                result = failure(error)
            except ValueError as error:  # CredentialsError from the exec provider
                result = ProbeResult(True, False, "CredentialsError", str(error))
        entry.last_probed = time.monotonic()  # after: the probe's own requests are not "traffic"
        if check_access and result.ready:
            entry.last_access_check = entry.last_probed
        if isinstance(result.error, Unauthorized) and entry.exec_provider is not None:
            entry.exec_provider.invalidate()
        if result.error is not None and _counts_against_breaker(result.error):
            self._record_failure(entry, result.error)
        elif result.reachable:
            entry.breaker.record_success()
        await self._update(entry, result)

    def _record_failure(self, entry: _Entry, error: KubeError) -> None:
        before = entry.breaker.state
        entry.breaker.record_failure()
        if entry.breaker.state is State.OPEN and before is not State.OPEN:
            entry.log.warning(
                "cluster.breaker_open",
                reason=error.reason,
                failures=entry.breaker.failures,
                retry_in=round(entry.breaker.seconds_until_retry(), 2),
            )

    async def _update(self, entry: _Entry, result: ProbeResult) -> None:
        now = time.time()
        old = entry.health
        changed = (old.reachable, old.ready, old.reason) != (
            result.reachable,
            result.ready,
            result.reason,
        )
        entry.health = ClusterHealth(
            reachable=result.reachable,
            ready=result.ready,
            reason=result.reason,
            message=result.message,
            server_version=result.server_version or old.server_version,
            latency_ms=result.latency_ms if result.latency_ms is not None else old.latency_ms,
            last_probe=now,
            last_transition=now if changed else old.last_transition,
            breaker=entry.breaker.state.value,
            probes=old.probes + 1,
        )
        entry.unchanged = entry.unchanged + 1 if result.ready and not changed else 0
        if changed:
            entry.log.info(
                "cluster.health_changed",
                ready=result.ready,
                reachable=result.reachable,
                reason=result.reason,
                message=result.message,
            )
        due = now - entry.last_written >= self.settings.status_refresh
        if self.status_sink is not None and (changed or due):
            entry.last_written = now
            try:
                await self.status_sink(entry.name, entry.health)
            except Exception as exc:  # status is best effort; the next change retries it
                mapped = translate(exc)
                entry.log.warning(
                    "cluster.status_write_failed",
                    error=mapped.reason if mapped else type(exc).__name__,
                )
                entry.last_written = 0.0
                entry.health = replace(entry.health)
