"""An Application's health is the worst of its objects, in gitops-engine's order."""

from __future__ import annotations

from fleet.sync.health import HEALTH_ORDER, is_worse, worst


def test_order_matches_gitops_engine() -> None:
    assert HEALTH_ORDER == ("Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown")


def test_no_objects_is_healthy() -> None:
    assert worst([]) == "Healthy"


def test_degraded_beats_missing_and_progressing() -> None:
    assert worst(["Healthy", "Progressing", "Degraded", "Missing"]) == "Degraded"


def test_unknown_is_worst() -> None:
    assert worst(["Degraded", "Unknown"]) == "Unknown"


def test_suspended_is_better_than_progressing() -> None:
    assert worst(["Suspended", "Progressing"]) == "Progressing"
    assert not is_worse("Progressing", "Suspended")


def test_unrecognised_status_counts_as_healthy_like_go() -> None:
    assert worst(["Suspended", "Bogus"]) == "Suspended"
