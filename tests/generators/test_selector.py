"""Label selectors: matchLabels and matchExpressions, parsed with errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from generators.errors import InvalidApplicationSetError
from generators.selector import parse_selector

LABELS = {"env": "prod", "tier": "web"}


def matches(selector: dict[str, Any], labels: dict[str, Any] = LABELS) -> bool:
    return parse_selector(selector, "selector").matches(labels)


def selector_error(selector: Any) -> InvalidApplicationSetError:
    with pytest.raises(InvalidApplicationSetError) as caught:
        parse_selector(selector, "spec.generators[0].selector")
    return caught.value


def test_absent_selector_is_empty_and_matches_everything() -> None:
    selector = parse_selector(None, "selector")
    assert selector.is_empty
    assert selector.matches({})


def test_match_labels_requires_equal_values() -> None:
    assert matches({"matchLabels": {"env": "prod"}})
    assert not matches({"matchLabels": {"env": "dev"}})


def test_match_labels_requires_the_key() -> None:
    assert not matches({"matchLabels": {"region": "us"}})


def test_in_matches_any_listed_value() -> None:
    assert matches(
        {"matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "prod"]}]}
    )


def test_not_in_matches_a_missing_key() -> None:
    expression = {"key": "region", "operator": "NotIn", "values": ["us"]}
    assert matches({"matchExpressions": [expression]})


def test_not_in_refuses_a_listed_value() -> None:
    expression = {"key": "env", "operator": "NotIn", "values": ["prod"]}
    assert not matches({"matchExpressions": [expression]})


def test_exists_and_does_not_exist() -> None:
    assert matches({"matchExpressions": [{"key": "tier", "operator": "Exists"}]})
    assert not matches({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]})


def test_selector_value_may_be_a_url() -> None:
    labels = {"server": "https://kubernetes.default.svc"}
    assert matches({"matchLabels": {"server": "https://kubernetes.default.svc"}}, labels)


def test_unknown_selector_field_is_refused() -> None:
    error = selector_error({"matchLabel": {"a": "b"}})
    assert error.path == "spec.generators[0].selector.matchLabel"


def test_match_label_value_must_be_a_string() -> None:
    error = selector_error({"matchLabels": {"replicas": 3}})
    assert str(error) == (
        "spec.generators[0].selector.matchLabels.replicas: expected a string, got a number"
    )


def test_in_without_values_is_refused() -> None:
    error = selector_error({"matchExpressions": [{"key": "env", "operator": "In"}]})
    assert str(error) == (
        "spec.generators[0].selector.matchExpressions[0].values: must be non-empty for operator In"
    )


def test_exists_with_values_is_refused() -> None:
    expression = {"key": "env", "operator": "Exists", "values": ["x"]}
    error = selector_error({"matchExpressions": [expression]})
    assert error.path == "spec.generators[0].selector.matchExpressions[0].values"


def test_expression_without_key_is_refused() -> None:
    error = selector_error({"matchExpressions": [{"operator": "Exists"}]})
    assert error.path == "spec.generators[0].selector.matchExpressions[0].key"
