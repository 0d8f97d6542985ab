"""Prometheus metrics of one controller (prometheus_client, one registry per controller).

Why a registry per controller instead of the process default: tests and `fleet demo` run
several controllers in one process, and each must report only its own figures. Gauges that
describe current state (queue depth, Applications by sync and health status) are computed at
scrape time from the controller's caches, so they can never drift from what it knows.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class QueueView(Protocol):
    """What /metrics reads of a work queue (fleet.controllers.workqueue.WorkQueue)."""

    @property
    def depth(self) -> int: ...

    @property
    def running(self) -> int: ...

    coalesced: int


class LimitView(Protocol):
    """What /metrics reads of a cluster's adaptive concurrency (fleet.kube.adaptive)."""

    @property
    def limit(self) -> int: ...

    @property
    def waiting(self) -> int: ...

    inflight: int
    throttled: int


class ClusterView(Protocol):
    """What /metrics reads of a member's health (fleet.clusters.manager.ClusterHealth)."""

    @property
    def ready(self) -> bool | None: ...

    @property
    def breaker(self) -> str: ...


class _ClusterCollector(Collector):
    """Connection state per member: what "cluster unreachable" alerts are written against."""

    def __init__(
        self,
        clusters: Callable[[], Mapping[str, ClusterView]],
        probes_deferred: Callable[[], int] | None,
    ) -> None:
        self._clusters = clusters
        self._probes_deferred = probes_deferred

    def collect(self) -> Iterator[Metric]:
        ready = GaugeMetricFamily(
            "fleet_cluster_ready",
            "1 when the member's last probe or traffic succeeded, 0 when it failed; absent "
            "until the first probe",
            labels=["cluster"],
        )
        breaker = GaugeMetricFamily(
            "fleet_cluster_breaker_open",
            "1 while the member's circuit breaker keeps requests away (open or half-open)",
            labels=["cluster"],
        )
        for name, view in sorted(self._clusters().items()):
            if view.ready is not None:
                ready.add_metric([name], 1.0 if view.ready else 0.0)
            breaker.add_metric([name], 0.0 if view.breaker == "closed" else 1.0)
        yield from (ready, breaker)
        if self._probes_deferred is not None:
            deferred = CounterMetricFamily(
                "fleet_cluster_probes_deferred",
                "Probes of Ready members skipped because their reconciles were running or "
                "waiting: shed work",
            )
            deferred.add_metric([], float(self._probes_deferred()))
            yield deferred


class _StateCollector(Collector):
    def __init__(
        self,
        queues: Callable[[], Mapping[str, QueueView]],
        apps: Callable[[], Iterable[tuple[str, str]]],
        limits: Callable[[], Mapping[str, LimitView]],
    ) -> None:
        self._queues = queues
        self._apps = apps
        self._limits = limits

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "fleet_workqueue_depth", "Keys waiting in a work queue", labels=["queue"]
        )
        running = GaugeMetricFamily(
            "fleet_workqueue_running", "Keys being handled now", labels=["queue"]
        )
        shed = CounterMetricFamily(
            "fleet_workqueue_coalesced",
            "Adds absorbed by a key already queued or running (work shed by de-duplication)",
            labels=["queue"],
        )
        for name, queue in self._queues().items():
            depth.add_metric([name], queue.depth)
            running.add_metric([name], queue.running)
            shed.add_metric([name], queue.coalesced)
        yield from (depth, running, shed)
        apps = GaugeMetricFamily(
            "fleet_applications",
            "Applications by sync and health status",
            labels=["sync_status", "health_status"],
        )
        for (sync, health), count in sorted(Tally(self._apps()).items()):
            apps.add_metric([sync, health], count)
        yield apps
        limit = GaugeMetricFamily(
            "fleet_cluster_concurrency_limit",
            "Requests a member cluster may have in flight now (adapts to 429, 5xx, timeouts)",
            labels=["cluster"],
        )
        inflight = GaugeMetricFamily(
            "fleet_cluster_requests_inflight", "Requests in flight", labels=["cluster"]
        )
        waiting = GaugeMetricFamily(
            "fleet_cluster_requests_waiting",
            "Requests waiting for a slot under the cluster's limit",
            labels=["cluster"],
        )
        throttled = CounterMetricFamily(
            "fleet_cluster_overload_signals",
            "429, 5xx and timeout answers that lowered (or would lower) the cluster's limit",
            labels=["cluster"],
        )
        for cluster, view in sorted(self._limits().items()):
            limit.add_metric([cluster], view.limit)
            inflight.add_metric([cluster], view.inflight)
            waiting.add_metric([cluster], view.waiting)
            throttled.add_metric([cluster], view.throttled)
        yield from (limit, inflight, waiting, throttled)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reconciles = Counter(
            "fleet_reconcile",
            "Reconciles by controller and result (ok, error)",
            ["controller", "result"],
            registry=self.registry,
        )
        self.reconcile_seconds = Histogram(
            "fleet_reconcile_duration_seconds",
            "Time of one reconcile",
            ["controller"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.syncs = Counter(
            "fleet_sync_operations",
            "Sync operations by phase (Succeeded, Failed, Error)",
            ["phase"],
            registry=self.registry,
        )
        # Latency by verb only: a histogram per cluster was 15 series per cluster and verb,
        # 7.5 MB and 0.7 s of the event loop per scrape at 1,000 clusters. Each cluster's own
        # latency is in its status (the probe's) and its strain in the gauges below.
        self.cluster_requests = Histogram(
            "fleet_cluster_request_duration_seconds",
            "HTTP requests to member clusters, all clusters, by verb (the method, or WATCH)",
            ["verb"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.cluster_request_count = Counter(
            "fleet_cluster_requests",
            "HTTP requests to member clusters, by cluster and verb (the method, or WATCH)",
            ["cluster", "verb"],
            registry=self.registry,
        )
        self.cluster_errors = Counter(
            "fleet_cluster_request_errors",
            "Failed HTTP requests to member clusters (5xx, 429, no response), by cluster",
            ["cluster", "outcome"],
            registry=self.registry,
        )
        self.cluster_resource_requests = Counter(
            "fleet_cluster_requests_by_resource",
            "HTTP requests to member clusters by verb (LIST: a GET of a collection; WATCH) and "
            "API resource (group/plural[/subresource], discovery, version), all clusters summed",
            ["verb", "resource"],
            registry=self.registry,
        )
        self.http_dropped = Counter(
            "fleet_http_connections_dropped",
            "Connections the HTTP server closed unanswered, by reason: timeout (no complete "
            "request in time), evicted (the longest idle, to make room), refused (every slot busy)",
            ["reason"],
            registry=self.registry,
        )
        self.http_rejected = Counter(
            "fleet_http_requests_rejected",
            "Requests answered with an error, by reason (bad_request, too_large, body_timeout, "
            "busy, bad_signature, invalid_body, ...)",
            ["reason"],
            registry=self.registry,
        )
        self.http_open = Gauge(
            "fleet_http_connections_open", "Open HTTP connections", registry=self.registry
        )
        self.queue_wait = Histogram(
            "fleet_workqueue_wait_seconds",
            "How long a ready key waited past its due time for a worker or cluster slot",
            ["queue"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._clusters: Callable[[], Iterable[str]] = lambda: ()

    def observe_clusters(self, names: Callable[[], Iterable[str]]) -> None:
        """Start recording requests of clients labelled with one of `names()` (member
        clusters; the hub client is not labelled)."""
        # Imported here: the supervisor of `--workers N` uses these metrics for its ports and
        # should not load the Kubernetes client (about 45 MiB) it never uses.
        from fleet.kube import observe

        self._clusters = names
        observe.add_observer(self._request)
        observe.add_resource_observer(self._resource_request)

    def close(self) -> None:
        from fleet.kube import observe

        observe.remove_observer(self._request)
        observe.remove_resource_observer(self._resource_request)

    def _request(self, cluster: str, verb: str, seconds: float, outcome: str) -> None:
        if cluster not in self._clusters():
            return  # another controller's cluster in the same process
        self.cluster_requests.labels(verb).observe(seconds)
        self.cluster_request_count.labels(cluster, verb).inc()
        if not outcome.isdigit() or outcome.startswith("5") or outcome == "429":
            self.cluster_errors.labels(cluster, outcome).inc()

    def _resource_request(self, cluster: str, verb: str, resource: str) -> None:
        if cluster in self._clusters():
            self.cluster_resource_requests.labels(verb, resource).inc()

    def add_state(
        self,
        queues: Callable[[], Mapping[str, QueueView]],
        apps: Callable[[], Iterable[tuple[str, str]]],
        limits: Callable[[], Mapping[str, LimitView]],
    ) -> None:
        """Figures read at scrape time from the controller's queues, Application statuses and
        member clients."""
        self.registry.register(_StateCollector(queues, apps, limits))

    def add_clusters(
        self,
        clusters: Callable[[], Mapping[str, ClusterView]],
        probes_deferred: Callable[[], int] | None = None,
    ) -> None:
        """Members' connection state, read at scrape time from the cluster manager."""
        self.registry.register(_ClusterCollector(clusters, probes_deferred))

    def observe_wait(self, queue: str) -> Callable[[float], None]:
        """A work queue's `on_wait`: how long ready keys waited for a slot."""
        return self.queue_wait.labels(queue).observe

    def render(self) -> bytes:
        return generate_latest(self.registry)
