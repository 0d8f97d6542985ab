"""fleet.sync.syncoptions: every documented Argo CD sync option honoured or refused by name, and
the rules behind the honoured ones."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.sync.ignore import IgnoreRule
from fleet.sync.syncoptions import (
    keeps,
    manifest_problems,
    problem,
    problems,
    respect_ignored,
    shared_owner,
)
from fleet.sync.tracking import AppRef, stamp

Obj = dict[str, Any]

HONOURED = [
    "Prune=false",
    "Prune=true",
    "Delete=false",
    "Validate=false",
    "SkipDryRunOnMissingResource=true",
    "ApplyOutOfSyncOnly=true",
    "PrunePropagationPolicy=foreground",
    "PrunePropagationPolicy=background",
    "PrunePropagationPolicy=orphan",
    "PruneLast=true",
    "Replace=true",
    "ServerSideApply=true",
    "ServerSideApply=false",
    "FailOnSharedResource=true",
    "RespectIgnoreDifferences=true",
    "CreateNamespace=true",
    "ClientSideApplyMigration=true",
]
REFUSED = ["Prune=confirm", "Delete=confirm", "Force=true", "ClientSideApplyMigration=false"]


@pytest.mark.parametrize("option", HONOURED)
def test_a_documented_option_fleet_honours_is_accepted(option: str) -> None:
    assert problem(option) is None


@pytest.mark.parametrize("option", REFUSED)
def test_a_documented_option_fleet_cannot_honour_is_refused_by_name(option: str) -> None:
    found = problem(option)
    assert found is not None and found.startswith(f"{option} is not supported")


def test_an_unknown_or_misspelt_option_is_refused() -> None:
    found = problem("CreateNamespaces=true")
    assert found is not None and "not a sync option Argo CD documents" in found


def test_a_bad_propagation_policy_names_the_allowed_values() -> None:
    assert problem("PrunePropagationPolicy=cascade") == (
        "'PrunePropagationPolicy=cascade': expected "
        "PrunePropagationPolicy=background|foreground|orphan"
    )


def test_problems_name_the_field_and_index() -> None:
    found = problems(["CreateNamespace=true", "Prune=confirm"], "spec.syncPolicy.syncOptions")
    assert found[0].startswith("spec.syncPolicy.syncOptions[1]: Prune=confirm")


def configmap(annotations: dict[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "ns", "annotations": annotations or {}},
    }


def test_a_refused_annotation_names_the_object() -> None:
    obj = configmap({"argocd.argoproj.io/sync-options": "Force=true,Replace=true"})
    [found] = manifest_problems([obj])
    assert found.startswith("ConfigMap/cm annotation argocd.argoproj.io/sync-options: Force=true")


def test_prune_false_on_the_application_keeps_unless_the_object_says_prune_true() -> None:
    assert keeps(configmap(), ["Prune=false"]) == "Prune=false"
    overridden = configmap({"argocd.argoproj.io/sync-options": "Prune=true"})
    assert keeps(overridden, ["Prune=false"]) is None


def test_delete_false_keeps_only_when_the_application_is_deleted() -> None:
    obj = configmap({"argocd.argoproj.io/sync-options": "Delete=false"})
    assert keeps(obj, [], deleting=True) == "Delete=false"
    assert keeps(obj, []) is None
    assert keeps(configmap(), ["Delete=false"], deleting=True) == "Delete=false"


def test_an_object_tracked_by_another_application_is_shared() -> None:
    other = stamp(AppRef("fleet", "other"), configmap())
    assert shared_owner(AppRef("fleet", "mine"), other) == "fleet/other"
    assert shared_owner(AppRef("fleet", "other"), other) is None
    argo = configmap({"argocd.argoproj.io/tracking-id": "legacy:/ConfigMap:ns/cm"})
    assert shared_owner(AppRef("argocd", "mine"), argo) == "legacy"
    assert shared_owner(AppRef("argocd", "legacy"), argo) is None


def deployment(replicas: int) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": {"replicas": replicas, "template": {"spec": {}}},
    }


REPLICAS = IgnoreRule(group="apps", kind="Deployment", json_pointers=("/spec/replicas",))


def test_ignored_pointers_take_the_live_value() -> None:
    sent = respect_ignored(deployment(1), deployment(5), [REPLICAS])
    assert sent["spec"]["replicas"] == 5


def test_a_new_object_is_sent_as_desired() -> None:
    assert respect_ignored(deployment(1), None, [REPLICAS])["spec"]["replicas"] == 1


def test_an_ignored_field_missing_live_is_left_out() -> None:
    live = deployment(1)
    del live["spec"]["replicas"]
    assert "replicas" not in respect_ignored(deployment(1), live, [REPLICAS])["spec"]


def test_respect_ignore_differences_false_on_the_object_sends_it_as_desired() -> None:
    desired = deployment(1)
    desired["metadata"]["annotations"] = {
        "argocd.argoproj.io/sync-options": "RespectIgnoreDifferences=false"
    }
    assert respect_ignored(desired, deployment(5), [REPLICAS])["spec"]["replicas"] == 1
