"""Which manifests are hooks, of which phase, with which delete policies and names: Argo CD's
rules (gitops-engine pkg/sync/hook), Helm's annotations mapped as Argo CD maps them."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.sync import hooks, ordering
from fleet.sync.hookrun import plan, waves

Obj = dict[str, Any]


def annotated(**annotations: str) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j", "annotations": annotations},
    }


def argo(value: str, **more: str) -> Obj:
    return annotated(**{"argocd.argoproj.io/hook": value, **more})


def helm(value: str, **more: str) -> Obj:
    return annotated(**{"helm.sh/hook": value, **more})


def test_a_manifest_without_hook_annotations_is_no_hook() -> None:
    assert not hooks.is_hook(annotated())
    assert hooks.types(annotated()) == []


def test_a_comma_list_runs_the_hook_in_each_phase() -> None:
    assert hooks.phases(argo("PreSync,PostSync")) == ["PreSync", "PostSync"]
    assert hooks.phases(argo(" PostSync , PreSync ")) == ["PreSync", "PostSync"]


def test_sync_fail_is_a_phase_of_its_own() -> None:
    assert hooks.phases(argo("SyncFail")) == ["SyncFail"]


def test_skip_alone_is_no_hook_and_is_never_applied() -> None:
    assert hooks.is_skipped(argo("Skip"))
    assert not hooks.is_hook(argo("Skip"))


def test_skip_with_a_phase_is_a_hook_of_that_phase() -> None:
    obj = argo("Skip,PreSync")
    assert not hooks.is_skipped(obj)
    assert hooks.is_hook(obj) and hooks.phases(obj) == ["PreSync"]


def test_unknown_hook_words_are_ignored() -> None:
    assert hooks.phases(argo("PreSync,Sometime")) == ["PreSync"]


def test_delete_hooks_are_hooks_a_sync_never_runs() -> None:
    for value in ("PostDelete", "PreDelete"):
        assert hooks.is_hook(argo(value)) and hooks.phases(argo(value)) == []


@pytest.mark.parametrize(
    ("helm_hook", "phase"),
    [
        ("pre-install", "PreSync"),
        ("pre-upgrade", "PreSync"),
        ("post-install", "PostSync"),
        ("post-upgrade", "PostSync"),
    ],
)
def test_helm_install_and_upgrade_hooks_map_to_argo_phases(helm_hook: str, phase: str) -> None:
    assert hooks.is_hook(helm(helm_hook)) and hooks.phases(helm(helm_hook)) == [phase]


def test_helm_pre_install_and_pre_upgrade_together_run_once() -> None:
    assert hooks.phases(helm("pre-install,pre-upgrade")) == ["PreSync"]


@pytest.mark.parametrize(
    "helm_hook", ["test", "test-success", "pre-delete", "post-delete", "pre-rollback"]
)
def test_other_helm_hooks_are_never_applied(helm_hook: str) -> None:
    assert hooks.is_hook(helm(helm_hook)) and hooks.phases(helm(helm_hook)) == []


def test_helm_crd_install_is_an_ordinary_resource() -> None:
    assert not hooks.is_hook(helm("crd-install"))


def test_argo_hook_annotation_wins_over_helm() -> None:
    obj = argo("PostSync", **{"helm.sh/hook": "pre-install"})
    assert hooks.phases(obj) == ["PostSync"]


def test_before_hook_creation_is_the_default_delete_policy() -> None:
    assert hooks.delete_policies(argo("PreSync")) == {"BeforeHookCreation"}


def test_an_explicit_delete_policy_replaces_the_default() -> None:
    obj = argo("PreSync", **{"argocd.argoproj.io/hook-delete-policy": "HookSucceeded"})
    assert hooks.delete_policies(obj) == {"HookSucceeded"}


def test_helm_delete_policies_map_to_argo_ones() -> None:
    obj = helm(
        "pre-install",
        **{"helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded,hook-failed"},
    )
    assert hooks.delete_policies(obj) == {"BeforeHookCreation", "HookSucceeded", "HookFailed"}


def test_helm_hook_weight_is_the_wave_unless_a_sync_wave_is_set() -> None:
    assert ordering.wave_of(helm("pre-install", **{"helm.sh/hook-weight": "-5"})) == -5
    both = helm("pre-install", **{"helm.sh/hook-weight": "-5", "argocd.argoproj.io/sync-wave": "3"})
    assert ordering.wave_of(both) == 3


def test_generate_name_follows_argo_cds_rule() -> None:
    name = hooks.generated_name("migrate-", "0123456789abcdef", "PreSync", 1764950400)
    assert name == "migrate-0123456-presync-1764950400"
    assert hooks.generated_name("m-", "HEAD", "Sync", 7) == "m-head-sync-7"


def test_a_hook_in_two_phases_gets_a_task_and_a_name_in_each() -> None:
    obj = argo("PreSync,PostSync")
    del obj["metadata"]["name"]
    obj["metadata"]["generateName"] = "check-"
    found = plan([obj], "abcdef123456", "2026-12-05T10:00:00Z")
    names = {p: [t.obj["metadata"]["name"] for t in ts] for p, ts in found.by_phase.items()}
    assert names == {
        "PreSync": ["check-abcdef1-presync-1796464800"],
        "PostSync": ["check-abcdef1-postsync-1796464800"],
    }


def test_hooks_of_a_phase_are_grouped_by_wave_in_order() -> None:
    manifests = []
    for name, wave in (("c", 2), ("a", -1), ("b", -1)):
        obj = argo("PreSync", **{"argocd.argoproj.io/sync-wave": str(wave)})
        obj["metadata"]["name"] = name
        manifests.append(obj)
    grouped = waves(plan(manifests, "r", "2026-12-05T10:00:00Z").phase("PreSync"))
    assert [[t.obj["metadata"]["name"] for t in wave] for wave in grouped] == [["a", "b"], ["c"]]


def test_progress_of_a_job_pod_and_plain_object() -> None:
    done = {"kind": "Job", "apiVersion": "batch/v1", "status": {"conditions": [
        {"type": "Complete", "status": "True"}]}}  # fmt: skip
    failed = {"kind": "Pod", "apiVersion": "v1", "status": {"phase": "Failed", "message": "x"}}
    running = {"kind": "Pod", "apiVersion": "v1", "spec": {"restartPolicy": "Never"},
               "status": {"phase": "Running"}}  # fmt: skip
    config = {"kind": "ConfigMap", "apiVersion": "v1"}
    assert hooks.progress(done).phase == "Succeeded"
    assert hooks.progress(failed) == hooks.Progress("Failed", "x")
    assert not hooks.progress(running).finished
    assert hooks.progress(config).phase == "Succeeded"
