"""The shipped alerting rules and Grafana dashboard (deploy/monitoring/) are valid PromQL and
name only metrics the controller exports, so an operator's alerts cannot silently watch nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.controllers.harness import Scenario

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"

EXPORTED_ELSEWHERE = {
    "fleet_worker_up": ROOT / "fleet" / "server" / "front.py",
    "fleet_shards_owned": ROOT / "fleet" / "controllers" / "sharding.py",
}
"""Families a single controller does not serve: the `--workers` supervisor's and a sharded
replica's. Their names are checked against the module that exports them."""


def _alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((MONITORING / "fleet-alerts.yaml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def _all_exprs() -> list[str]:
    return [rule["expr"] for rule in _alert_rules()] + _dashboard_exprs()


def _selectors(node: Any) -> Iterator[str]:
    """Metric names of every vector selector in a parsed PromQL expression."""
    if isinstance(node, promql_parser.VectorSelector):
        if node.name:
            yield node.name
        return
    if isinstance(node, promql_parser.MatrixSelector):
        yield from _selectors(node.vector_selector)
        return
    if isinstance(node, promql_parser.Call):
        for arg in node.args:
            yield from _selectors(arg)
        return
    for attribute in ("expr", "lhs", "rhs", "param"):
        child = getattr(node, attribute, None)
        if child is not None:
            yield from _selectors(child)


def _family(sample_name: str) -> str:
    for suffix in ("_bucket", "_count", "_sum", "_total"):
        if sample_name.endswith(suffix):
            return sample_name.removesuffix(suffix)
    return sample_name


@pytest.mark.parametrize("expr", _all_exprs())
def test_every_shipped_expression_parses_as_promql(expr: str) -> None:
    assert list(_selectors(promql_parser.parse(expr))), f"no metric in {expr!r}"


def test_every_alert_has_a_severity_and_a_summary() -> None:
    for rule in _alert_rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert "for" in rule, f"{rule['alert']} would fire on a single bad scrape"


@pytest.mark.anyio
async def test_alerts_and_dashboard_name_only_metrics_the_controller_exports(
    sim_scenario: Scenario,
) -> None:
    text = await sim_scenario.converged_metrics()
    families = {family.name for family in text_string_to_metric_families(text)}
    referenced = {
        _family(name) for expr in _all_exprs() for name in _selectors(promql_parser.parse(expr))
    }
    unknown = {
        name
        for name in referenced - families
        if not (name in EXPORTED_ELSEWHERE and f'"{name}"' in EXPORTED_ELSEWHERE[name].read_text())
    }
    assert not unknown, f"shipped rules or dashboard name metrics nobody exports: {unknown}"


@pytest.mark.anyio
async def test_metrics_show_each_member_ready_with_its_breaker_closed(
    sim_scenario: Scenario,
) -> None:
    text = await sim_scenario.converged_metrics()
    samples = {
        (s.name, s.labels.get("cluster")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    for member in sim_scenario.env.members:
        assert samples[("fleet_cluster_ready", member.name)] == 1
        assert samples[("fleet_cluster_breaker_open", member.name)] == 0
    assert samples[("fleet_cluster_probes_deferred_total", None)] >= 0  # exported
