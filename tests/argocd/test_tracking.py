"""Ownership of objects Argo CD deployed, for a controller taking over with `--api argocd`:
Argo CD's tracking marks count for the Application they name, and for nothing else."""

from __future__ import annotations

from typing import Any

from fleet.sync.status import AppStatus, Operation
from fleet.sync.tracking import AppRef, argocd_instance_name, owned_by, stamp

Obj = dict[str, Any]

ARGO = AppRef("argocd", "web", argocd_instance="web")
ARGO_LABELS = AppRef("argocd", "web", argocd_instance="web", argocd_label_tracking=True)


def configmap(name: str = "web-config", namespace: str = "apps", **meta: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, **meta},
    }


def annotated(mark: str, **kw: Any) -> Obj:
    return configmap(annotations={"argocd.argoproj.io/tracking-id": mark}, **kw)


def test_argo_cd_tracking_annotation_for_this_app_and_object_is_ownership() -> None:
    assert owned_by(ARGO, annotated("web:/ConfigMap:apps/web-config"))


def test_argo_cd_tracking_annotation_of_another_app_is_not_ownership() -> None:
    assert not owned_by(ARGO, annotated("api:/ConfigMap:apps/web-config"))


def test_argo_cd_tracking_annotation_copied_onto_another_object_is_not_ownership() -> None:
    assert not owned_by(ARGO, annotated("web:/ConfigMap:apps/web-config", name="copy"))
    assert not owned_by(ARGO, annotated("web:/ConfigMap:other/web-config"))
    assert not owned_by(ARGO, annotated("web:apps/Deployment:apps/web-config"))


def test_argo_cd_marks_mean_nothing_outside_argo_cd_mode() -> None:
    assert not owned_by(AppRef("argocd", "web"), annotated("web:/ConfigMap:apps/web-config"))


RBAC = "rbac.authorization.k8s.io"
MARK = "argocd.argoproj.io/tracking-id"


def test_cluster_scoped_objects_match_whatever_namespace_argo_cd_wrote() -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": "reader",
            "annotations": {MARK: f"web:{RBAC}/ClusterRole:apps/reader"},
        },
    }
    assert owned_by(ARGO, role)


def test_instance_label_counts_only_with_label_tracking() -> None:
    labelled = configmap(labels={"app.kubernetes.io/instance": "web"})
    assert not owned_by(ARGO, labelled)
    assert owned_by(ARGO_LABELS, labelled)
    assert not owned_by(ARGO_LABELS, configmap(labels={"app.kubernetes.io/instance": "api"}))


def test_an_annotation_naming_another_app_outweighs_a_matching_label() -> None:
    both = configmap(
        labels={"app.kubernetes.io/instance": "web"},
        annotations={"argocd.argoproj.io/tracking-id": "api:/ConfigMap:apps/web-config"},
    )
    assert not owned_by(ARGO_LABELS, both)


def test_fleet_marks_still_count_in_argo_cd_mode() -> None:
    assert owned_by(ARGO, stamp(ARGO, configmap()))


def test_instance_name_is_namespace_qualified_outside_argo_cds_namespace() -> None:
    assert argocd_instance_name("argocd", "web", "argocd") == "web"
    assert argocd_instance_name("team-a", "web", "argocd") == "team-a_web"


def test_history_continues_after_argo_cds_highest_id_and_skips_malformed_entries() -> None:
    status = AppStatus.from_dict(
        {"history": [{"id": 7, "revision": "a"}, "junk", {"id": "8"}, {"revision": "b"}]}
    )
    status.record_history(Operation(phase="Succeeded", revision="c"))
    assert status.history[-1]["id"] == 8
    assert status.history[0] == {"id": 7, "revision": "a"}
