"""/metrics tells how loaded the controller is: queue depth, running, shed work, wait for a
slot, and each member's adaptive request concurrency."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.controllers.harness import Scenario

pytestmark = pytest.mark.anyio


async def test_metrics_show_queue_backpressure_and_each_clusters_concurrency(
    sim_scenario: Scenario,
) -> None:
    scenario = sim_scenario
    text = await scenario.converged_metrics()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    names = {name for name, _ in samples}
    assert {
        "fleet_workqueue_depth",
        "fleet_workqueue_running",
        "fleet_workqueue_coalesced_total",
        "fleet_workqueue_wait_seconds_count",
        "fleet_cluster_concurrency_limit",
        "fleet_cluster_requests_inflight",
        "fleet_cluster_overload_signals_total",
    } <= names
    started = samples[("fleet_workqueue_wait_seconds_count", (("queue", "applications"),))]
    assert started >= 6  # every Application's reconcile was started (and its wait observed)
    for member in scenario.env.members:
        assert samples[("fleet_cluster_concurrency_limit", (("cluster", member.name),))] >= 1


async def test_request_counts_are_per_cluster_and_latency_is_one_histogram_per_verb(
    sim_scenario: Scenario,
) -> None:
    """A histogram per cluster was 15 series per cluster and verb: 7.5 MB and 0.7 s of the
    event loop per scrape at 1,000 clusters."""
    text = await sim_scenario.converged_metrics()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    counts = families["fleet_cluster_requests"].samples
    assert {s.labels["cluster"] for s in counts} >= {m.name for m in sim_scenario.env.members}
    latency = families["fleet_cluster_request_duration_seconds"].samples
    assert latency and all("cluster" not in s.labels for s in latency)
    assert {s.labels["verb"] for s in latency} >= {"PATCH"}
