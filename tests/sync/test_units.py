"""Pure parts of the sync engine: ordering, retry, ignore rules, tracking, history."""

from __future__ import annotations

import pytest

from fleet.sync import ordering
from fleet.sync.diff import differs
from fleet.sync.ignore import IgnoreRule, apply_rules, remove_jq
from fleet.sync.retry import RetryPolicy, parse_duration
from fleet.sync.spec import AppSpec
from fleet.sync.status import AppStatus, Operation
from fleet.sync.tracking import AppRef, owned_by, stamp


def obj(kind: str, name: str, wave: str | None = None, api: str = "v1") -> dict[str, object]:
    meta: dict[str, object] = {"name": name}
    if wave is not None:
        meta["annotations"] = {"argocd.argoproj.io/sync-wave": wave}
    return {"apiVersion": api, "kind": kind, "metadata": meta}


def test_namespaces_and_crds_come_before_every_wave() -> None:
    objs = [
        obj("ConfigMap", "c", "-5"),
        obj("CustomResourceDefinition", "crd", "3"),
        obj("Namespace", "ns", "9"),
    ]
    assert [o["kind"] for o in sorted(objs, key=ordering.sort_key)] == [
        "Namespace",
        "CustomResourceDefinition",
        "ConfigMap",
    ]


def test_kind_order_within_a_wave_follows_gitops_engine() -> None:
    objs = [
        obj("Deployment", "d"),
        obj("Widget", "w"),
        obj("Service", "s"),
        obj("ConfigMap", "c"),
        obj("ServiceAccount", "sa"),
    ]
    kinds = [o["kind"] for o in sorted(objs, key=ordering.sort_key)]
    assert kinds == ["ServiceAccount", "ConfigMap", "Service", "Deployment", "Widget"]


def test_waves_group_ascending_with_default_zero() -> None:
    steps = ordering.waves(
        [obj("ConfigMap", "b", "1"), obj("ConfigMap", "a"), obj("ConfigMap", "z", "-1")]
    )
    assert [[o["metadata"]["name"] for o in s] for s in steps] == [["z"], ["a"], ["b"]]


def test_retry_defaults_match_argo_cd() -> None:
    policy = RetryPolicy.parse({"limit": 5})
    assert (policy.duration, policy.factor, policy.max_duration) == (5.0, 2.0, 180.0)
    assert [policy.backoff(n) for n in (1, 2, 3, 7, 8)] == [5, 10, 20, 180, 180]


def test_retry_limit_counts_retries_and_negative_is_unlimited() -> None:
    assert RetryPolicy(limit=2).allows(2) and not RetryPolicy(limit=2).allows(3)
    assert RetryPolicy(limit=-1).allows(10_000)
    assert not RetryPolicy().allows(1)


def test_go_durations_parse() -> None:
    assert parse_duration("1m30s", 0) == 90
    assert parse_duration("500ms", 0) == 0.5
    with pytest.raises(ValueError):
        parse_duration("5 parsecs", 0)


def test_jq_select_removes_one_container_image() -> None:
    doc = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "x", "image": "a"}, {"name": "y", "image": "b"}]}
            }
        }
    }
    remove_jq(doc, '.spec.template.spec.containers[] | select(.name == "x") | .image')
    assert doc["spec"]["template"]["spec"]["containers"] == [
        {"name": "x"},
        {"name": "y", "image": "b"},
    ]


def test_jq_optional_iteration_and_keys() -> None:
    doc = {"metadata": {"labels": {"a": "1"}}, "items": [{"v": 1}, {"v": 2}]}
    remove_jq(doc, ".items[]?.v")
    remove_jq(doc, ".metadata.labels.a")
    assert doc == {"metadata": {"labels": {}}, "items": [{}, {}]}


def test_managed_fields_managers_are_ignored() -> None:
    live = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "d",
            "managedFields": [{"manager": "hpa", "fieldsV1": {"f:spec": {"f:replicas": {}}}}],
        },
        "spec": {"replicas": 5, "paused": False},
    }
    predicted = {**live, "spec": {"replicas": 1, "paused": False}}
    rule = IgnoreRule(group="apps", kind="Deployment", managers=("hpa",))
    assert not differs(predicted, live, [rule])
    assert differs(predicted, live, [])


def test_rule_matches_only_its_kind_and_name() -> None:
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": 1}}
    apply_rules(doc, [IgnoreRule(kind="ConfigMap", name="b", json_pointers=("/data",))])
    assert "data" in doc


def test_ownership_needs_the_exact_tracking_annotation() -> None:
    app = AppRef("argocd", "web")
    mine = stamp(
        app, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "ns"}}
    )
    assert owned_by(app, mine)
    copied = {**mine, "metadata": {**mine["metadata"], "name": "b"}}
    assert not owned_by(app, copied)
    assert not owned_by(AppRef("argocd", "other"), mine)


def test_history_keeps_the_last_ten_syncs() -> None:
    status = AppStatus()
    for n in range(12):
        status.record_history(Operation(phase="Succeeded", revision=f"r{n}"))
    assert [h["revision"] for h in status.history] == [f"r{n}" for n in range(2, 12)]
    assert status.history[-1]["id"] == 11


def test_history_follows_the_limit_as_it_grows_and_shrinks() -> None:
    # Argo CD's own vector (persistRevisionHistory): 10 by default, then 11, then 9
    status = AppStatus()
    lengths = []
    for limit in [10] * 11 + [11, 9]:
        status.record_history(Operation(phase="Succeeded", revision="r"), limit)
        lengths.append(len(status.history))
    assert lengths == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 11, 9]
    assert [h["id"] for h in status.history] == list(range(4, 13))  # the newest are kept


def test_a_history_limit_of_zero_keeps_no_history() -> None:
    status = AppStatus()
    status.record_history(Operation(phase="Succeeded", revision="r"), 0)
    assert status.history == []


@pytest.mark.parametrize(
    ("value", "limit"),
    [(None, 10), (3, 3), (0, 0), (-1, 10), ("5", 10), (True, 10), (2.5, 10), (10**9, 100)],
)
def test_spec_reads_revision_history_limit(value: object, limit: int) -> None:
    spec: dict[str, object] = {"destination": {"namespace": "prod"}}
    if value is not None:
        spec["revisionHistoryLimit"] = value
    app = {"metadata": {"name": "web"}, "spec": spec}
    assert AppSpec.from_application(app).history_limit == limit


def test_spec_reads_argo_cd_application() -> None:
    spec = AppSpec.from_application(
        {
            "metadata": {"name": "web", "namespace": "argocd"},
            "spec": {
                "destination": {"namespace": "prod"},
                "syncPolicy": {
                    "automated": {"prune": True, "selfHeal": True},
                    "syncOptions": ["CreateNamespace=true"],
                    "retry": {
                        "limit": 3,
                        "backoff": {"duration": "1s", "factor": 3, "maxDuration": "1m"},
                    },
                },
                "ignoreDifferences": [
                    {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}
                ],
            },
        }
    )
    assert spec.prune and spec.self_heal and spec.option("CreateNamespace")
    assert spec.retry == RetryPolicy(limit=3, duration=1.0, factor=3.0, max_duration=60.0)
    assert spec.ignore[0].json_pointers == ("/spec/replicas",)
