"""Prometheus metrics of one controller (prometheus_client, one registry per controller).

Why a registry per controller instead of the process default: tests and `fleet demo` run
several controllers in one process, and each must report only its own figures. Gauges that
describe current state (queue depth, Applications by sync and health status) are computed at
scrape time from the controller's caches, so they can never drift from what it knows.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from fleet.kube import observe

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _StateCollector(Collector):
    def __init__(
        self,
        depths: Callable[[], Mapping[str, int]],
        apps: Callable[[], Iterable[tuple[str, str]]],
    ) -> None:
        self._depths = depths
        self._apps = apps

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "fleet_workqueue_depth", "Keys waiting in a work queue", labels=["queue"]
        )
        for queue, value in self._depths().items():
            depth.add_metric([queue], value)
        yield depth
        apps = GaugeMetricFamily(
            "fleet_applications",
            "Applications by sync and health status",
            labels=["sync_status", "health_status"],
        )
        for (sync, health), count in sorted(Tally(self._apps()).items()):
            apps.add_metric([sync, health], count)
        yield apps


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
        self.cluster_requests = Histogram(
            "fleet_cluster_request_duration_seconds",
            "HTTP requests to member clusters, by cluster and verb (the method, or WATCH)",
            ["cluster", "verb"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.cluster_errors = Counter(
            "fleet_cluster_request_errors",
            "Failed HTTP requests to member clusters (5xx, 429, no response), by cluster",
            ["cluster", "outcome"],
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
        self._clusters: Callable[[], Iterable[str]] = lambda: ()

    def observe_clusters(self, names: Callable[[], Iterable[str]]) -> None:
        """Start recording requests of clients labelled with one of `names()` (member
        clusters; the hub client is not labelled)."""
        self._clusters = names
        observe.add_observer(self._request)

    def close(self) -> None:
        observe.remove_observer(self._request)

    def _request(self, cluster: str, verb: str, seconds: float, outcome: str) -> None:
        if cluster not in self._clusters():
            return  # another controller's cluster in the same process
        self.cluster_requests.labels(cluster, verb).observe(seconds)
        if not outcome.isdigit() or outcome.startswith("5") or outcome == "429":
            self.cluster_errors.labels(cluster, outcome).inc()

    def add_state(
        self,
        depths: Callable[[], Mapping[str, int]],
        apps: Callable[[], Iterable[tuple[str, str]]],
    ) -> None:
        self.registry.register(_StateCollector(depths, apps))

    def render(self) -> bytes:
        return generate_latest(self.registry)
