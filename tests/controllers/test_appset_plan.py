"""The pure plan: Argo CD's update semantics, policies, freezing and the deletion budget."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.controllers import appset_plan
from fleet.controllers.appset_plan import (
    FieldChange,
    IgnoreRule,
    PlanError,
    deletion_budget,
    effective_policy,
    plan,
)


def app(name: str, revision: str = "main", **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "fleet.gitops.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, **meta},
        "spec": {"source": {"targetRevision": revision}},
    }


def test_update_replaces_the_spec_and_reports_the_changed_field() -> None:
    result = plan([app("a", "v2")], [app("a", "main")], complete=True, budget=1)
    [(merged, changes)] = result.update
    assert merged["spec"]["source"]["targetRevision"] == "v2"
    assert changes == [FieldChange("spec.source.targetRevision", "main", "v2")]


def test_update_keeps_operation_status_and_argo_preserved_annotations() -> None:
    live = app("a", annotations={"argocd.argoproj.io/refresh": "hard", "mine": "x"})
    live["operation"] = {"sync": {"revision": "main"}}
    live["status"] = {"health": {"status": "Healthy"}}
    [(merged, _)] = plan([app("a", "v2")], [live], complete=True, budget=1).update
    assert merged["operation"] == live["operation"]
    assert merged["status"] == live["status"]
    assert merged["metadata"]["annotations"] == {"argocd.argoproj.io/refresh": "hard"}


def test_preserved_labels_are_kept_from_the_live_application() -> None:
    live = app("a", labels={"team": "x", "stray": "y"})
    result = plan(
        [app("a", labels={"gen": "1"})], [live], complete=True, budget=1, preserved_labels=["team"]
    )
    [(merged, _)] = result.update
    assert merged["metadata"]["labels"] == {"gen": "1", "team": "x"}


def test_identical_applications_are_unchanged() -> None:
    result = plan([app("a")], [app("a", resourceVersion="7")], complete=True, budget=1)
    assert not result.changes and [a["metadata"]["name"] for a in result.unchanged] == ["a"]


def test_incomplete_expansion_freezes_every_deletion() -> None:
    result = plan([app("a")], [app("a"), app("b")], complete=False, budget=10)
    assert result.delete == [] and [a["metadata"]["name"] for a in result.frozen] == ["b"]


def test_deletions_beyond_the_budget_are_held_oldest_deleted_first() -> None:
    existing = [app(f"x{i}", creationTimestamp=f"2026-01-0{9 - i}T00:00:00Z") for i in range(4)]
    result = plan([], existing, complete=True, budget=1)
    assert [a["metadata"]["name"] for a in result.delete] == ["x3"]
    assert len(result.held) == 3


@pytest.mark.parametrize(
    ("spec", "current", "expected"),
    [("20%", 10, 2), ("20%", 4, 1), ("20%", 0, 0), ("5", 100, 5), ("100%", 7, 7), ("0", 9, 0)],
)
def test_deletion_budget_is_a_floored_share_with_a_minimum_of_one(
    spec: str, current: int, expected: int
) -> None:
    assert deletion_budget(spec, current) == expected


def test_a_bad_deletion_budget_is_an_error_naming_the_value() -> None:
    with pytest.raises(PlanError, match="'lots'"):
        deletion_budget("lots", 3)


def test_policy_override_only_when_allowed() -> None:
    assert effective_policy("create-only", "sync", True) == "create-only"
    assert effective_policy("create-only", "sync", False) == "sync"
    with pytest.raises(PlanError, match="applicationsSync"):
        effective_policy("everything", "sync", True)


def test_ignored_json_pointer_keeps_the_live_value() -> None:
    rule = IgnoreRule(json_pointers=("/spec/source/targetRevision",))
    result = plan([app("a", "main")], [app("a", "pinned")], complete=True, budget=1, ignore=[rule])
    assert result.update == [] and len(result.unchanged) == 1


def test_an_application_being_deleted_is_neither_deleted_again_nor_updated() -> None:
    dying = app("a", deletionTimestamp="2026-01-01T00:00:00Z")
    result = plan([], [dying], complete=True, budget=5)
    assert result.delete == [] and result.deleting == [dying]


def test_a_status_write_on_an_unchanged_application_is_not_merged_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    generated = app("a")
    memo: dict[str, Any] = {}
    plan([generated], [app("a", resourceVersion="7")], complete=True, budget=1, unchanged=memo)
    merges: list[str] = []
    real = appset_plan.updated
    monkeypatch.setattr(appset_plan, "updated", lambda *a, **k: merges.append("x") or real(*a, **k))
    progressed = app("a", resourceVersion="8")
    progressed["status"] = {"health": {"status": "Progressing"}}
    result = plan([generated], [progressed], complete=True, budget=1, unchanged=memo)
    assert result.unchanged == [progressed] and not result.changes
    assert merges == []


def test_an_application_edited_by_hand_after_an_unchanged_plan_is_updated() -> None:
    generated = app("a", "v2")
    memo: dict[str, Any] = {}
    plan([generated], [app("a", "v2")], complete=True, budget=1, unchanged=memo)
    result = plan([generated], [app("a", "edited")], complete=True, budget=1, unchanged=memo)
    [(merged, changes)] = result.update
    assert merged["spec"]["source"]["targetRevision"] == "v2"
    assert changes == [FieldChange("spec.source.targetRevision", "edited", "v2")]


def test_a_new_expansion_is_compared_though_the_live_application_is_the_same() -> None:
    live = app("a", "v1")
    memo: dict[str, Any] = {}
    plan([app("a", "v1")], [live], complete=True, budget=1, unchanged=memo)
    result = plan([app("a", "v2")], [live], complete=True, budget=1, unchanged=memo)
    assert [changes for _, changes in result.update] == [
        [FieldChange("spec.source.targetRevision", "v1", "v2")]
    ]


def test_the_unchanged_memo_keeps_only_applications_of_the_last_plan() -> None:
    memo: dict[str, Any] = {}
    plan([app("a"), app("b")], [app("a"), app("b")], complete=True, budget=1, unchanged=memo)
    plan([app("a")], [app("a"), app("b")], complete=True, budget=0, unchanged=memo)
    assert sorted(memo) == ["a"]
