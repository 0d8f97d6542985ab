"""Declarative custom health rules for custom resource kinds."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.sync.health import CustomHealthRules, Health, HealthRuleError, assess

RULES = """
- group: db.example.com
  kind: Database
  degraded:
    - status.conditions[type=Ready].reason == "Failed"
  healthy:
    - path: status.phase
      equals: Ready
    - all:
        - status.conditions[type=Ready].status == "True"
        - status.observedGeneration exists
  suspended:
    - path: spec.paused
      equals: true
  message: status.message
"""


def _db(status: dict[str, Any], spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "db.example.com/v1",
        "kind": "Database",
        "metadata": {"name": "db"},
        "spec": spec or {},
        "status": status,
    }


@pytest.fixture
def rules() -> CustomHealthRules:
    return CustomHealthRules.from_yaml(RULES)


def test_path_equals_makes_healthy_with_message(rules: CustomHealthRules) -> None:
    assert assess(_db({"phase": "Ready", "message": "up"}), rules) == Health("Healthy", "up")


def test_condition_selector_makes_degraded(rules: CustomHealthRules) -> None:
    status = {"phase": "Ready", "conditions": [{"type": "Ready", "reason": "Failed"}]}
    assert assess(_db(status), rules) == Health("Degraded")


def test_all_requires_every_matcher(rules: CustomHealthRules) -> None:
    ready = [{"type": "Ready", "status": "True"}]
    assert assess(_db({"conditions": ready}), rules) == Health("Progressing")
    healthy = assess(_db({"conditions": ready, "observedGeneration": 1}), rules)
    assert healthy == Health("Healthy")


def test_boolean_value_makes_suspended(rules: CustomHealthRules) -> None:
    assert assess(_db({}, {"paused": True}), rules) == Health("Suspended")


def test_nothing_matching_is_the_default_progressing(rules: CustomHealthRules) -> None:
    assert assess(_db({"phase": "Creating"}), rules) == Health("Progressing")


def test_custom_rule_overrides_builtin() -> None:
    rules = CustomHealthRules.from_yaml("- {group: apps, kind: Deployment, default: Healthy}")
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"generation": 5}}
    assert assess(deployment, rules) == Health("Healthy")


def test_kind_without_any_rule_still_has_no_health(rules: CustomHealthRules) -> None:
    assert assess({"apiVersion": "x.io/v1", "kind": "Thing", "metadata": {}}, rules) is None


def test_unknown_field_is_an_error_naming_the_rule() -> None:
    with pytest.raises(HealthRuleError, match=r"rules\[0\]: unknown field\(s\) helthy"):
        CustomHealthRules.from_yaml("- {kind: Thing, helthy: []}")


def test_bad_matcher_is_an_error_naming_its_place() -> None:
    with pytest.raises(HealthRuleError, match=r"rules\[0\]\.healthy\[0\]"):
        CustomHealthRules.from_yaml("- {kind: Thing, healthy: ['status.phase']}")
