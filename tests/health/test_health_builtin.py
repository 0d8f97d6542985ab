"""Built-in rules: one behaviour each, with Argo CD's (gitops-engine pkg/health) outcome."""

from __future__ import annotations

from typing import Any

from fleet.sim.workload_status import settled_status
from fleet.sync.health import Health, assess


def _obj(api: str, kind: str, spec: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": "web", "namespace": "default", "generation": 1},
        "spec": spec or {},
    }
    obj.update(extra)
    return obj


def _deployment(replicas: int = 2) -> dict[str, Any]:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}}
    return _obj("apps/v1", "Deployment", {"replicas": replicas, "template": template})


def _settled(obj: dict[str, Any], *, failing: bool) -> dict[str, Any]:
    status = settled_status(obj, failing=failing)
    assert status is not None
    return {**obj, "status": status}


def _status(obj: dict[str, Any]) -> str:
    health = assess(obj)
    assert health is not None
    return health.status


def test_settled_deployment_is_healthy() -> None:
    assert assess(_settled(_deployment(), failing=False)) == Health("Healthy")


def test_failing_deployment_is_degraded_with_argo_message() -> None:
    health = assess(_settled(_deployment(), failing=True))
    assert health == Health("Degraded", 'Deployment "web" exceeded its progress deadline')


def test_deployment_not_yet_observed_is_progressing() -> None:
    assert _status(_deployment()) == "Progressing"


def test_paused_deployment_is_suspended() -> None:
    obj = _settled(_deployment(), failing=False)
    obj["spec"]["paused"] = True
    assert _status(obj) == "Suspended"


def test_deployment_with_old_replicas_pending_termination_is_progressing() -> None:
    obj = _settled(_deployment(), failing=False)
    obj["status"]["replicas"] = 3
    health = assess(obj)
    assert health is not None and "1 old replicas are pending termination" in health.message


def test_settled_and_failing_replicaset() -> None:
    rs = _obj("apps/v1", "ReplicaSet", {"replicas": 2, "template": {}})
    assert _status(_settled(rs, failing=False)) == "Healthy"
    assert _status(_settled(rs, failing=True)) == "Degraded"


def test_settled_statefulset_is_healthy_and_failing_one_progressing() -> None:
    sts = _obj("apps/v1", "StatefulSet", {"replicas": 2, "template": {}})
    assert _status(_settled(sts, failing=False)) == "Healthy"
    assert _status(_settled(sts, failing=True)) == "Progressing"


def test_settled_daemonset_is_healthy_and_failing_one_progressing() -> None:
    ds = _obj("apps/v1", "DaemonSet", {"template": {}})
    assert _status(_settled(ds, failing=False)) == "Healthy"
    assert _status(_settled(ds, failing=True)) == "Progressing"


def test_settled_job_is_healthy_and_failing_one_degraded() -> None:
    job = _obj("batch/v1", "Job", {"template": {}})
    assert _status(_settled(job, failing=False)) == "Healthy"
    assert _status(_settled(job, failing=True)) == "Degraded"


def test_running_job_is_progressing() -> None:
    assert _status(_obj("batch/v1", "Job", status={"active": 1})) == "Progressing"


def test_suspended_cronjob_is_suspended() -> None:
    assert _status(_obj("batch/v1", "CronJob", {"suspend": True})) == "Suspended"


def test_cronjob_whose_last_run_failed_is_degraded() -> None:
    status = {
        "lastScheduleTime": "2026-01-01T01:00:00Z",
        "lastSuccessfulTime": "2026-01-01T00:00:00Z",
    }
    assert _status(_obj("batch/v1", "CronJob", status=status)) == "Degraded"


def test_pod_in_crash_loop_is_degraded() -> None:
    waiting = {"reason": "CrashLoopBackOff", "message": "back-off restarting"}
    status = {
        "phase": "Running",
        "containerStatuses": [{"name": "c", "state": {"waiting": waiting}}],
    }
    assert assess(_obj("v1", "Pod", status=status)) == Health("Degraded", "back-off restarting")


def test_hook_pod_in_image_pull_backoff_is_not_degraded() -> None:
    waiting = {"reason": "ImagePullBackOff", "message": "pull"}
    status = {
        "phase": "Pending",
        "containerStatuses": [{"name": "c", "state": {"waiting": waiting}}],
    }
    pod = _obj("v1", "Pod", {"restartPolicy": "Never"}, status=status)
    assert _status(pod) == "Progressing"


def test_ready_running_pod_is_healthy() -> None:
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    assert _status(_obj("v1", "Pod", status=status)) == "Healthy"


def test_failed_pod_reports_the_exit_code() -> None:
    terminated = {"exitCode": 3}
    status = {
        "phase": "Failed",
        "containerStatuses": [{"name": "c", "state": {"terminated": terminated}}],
    }
    assert assess(_obj("v1", "Pod", status=status)) == Health(
        "Degraded", 'container "c" failed with exit code 3'
    )


def test_load_balancer_service_waits_for_ingress() -> None:
    svc = _obj("v1", "Service", {"type": "LoadBalancer"})
    assert _status(svc) == "Progressing"
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}
    assert _status(svc) == "Healthy"


def test_cluster_ip_service_is_healthy() -> None:
    assert _status(_obj("v1", "Service", {"type": "ClusterIP"})) == "Healthy"


def test_pvc_phases() -> None:
    for phase, expected in (("Bound", "Healthy"), ("Pending", "Progressing"), ("Lost", "Degraded")):
        assert _status(_obj("v1", "PersistentVolumeClaim", status={"phase": phase})) == expected


def test_ingress_without_address_is_progressing() -> None:
    assert _status(_obj("networking.k8s.io/v1", "Ingress")) == "Progressing"


def test_established_crd_is_healthy() -> None:
    conditions = [
        {"type": "NamesAccepted", "status": "True"},
        {"type": "Established", "status": "True"},
    ]
    crd = _obj(
        "apiextensions.k8s.io/v1", "CustomResourceDefinition", status={"conditions": conditions}
    )
    assert assess(crd) == Health("Healthy", "CRD is healthy")


def test_hpa_failing_to_get_metrics_is_degraded() -> None:
    conditions = [{"type": "ScalingActive", "reason": "FailedGetResourceMetric", "message": "m"}]
    hpa = _obj("autoscaling/v2", "HorizontalPodAutoscaler", status={"conditions": conditions})
    assert assess(hpa) == Health("Degraded", "m")


def test_available_apiservice_is_healthy() -> None:
    conditions = [{"type": "Available", "status": "True", "reason": "Passed", "message": "ok"}]
    api = _obj("apiregistration.k8s.io/v1", "APIService", status={"conditions": conditions})
    assert assess(api) == Health("Healthy", "Passed: ok")


def test_object_being_deleted_is_progressing() -> None:
    obj = _settled(_deployment(), failing=False)
    obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert assess(obj) == Health("Progressing", "Pending deletion")


def test_kind_without_rule_has_no_health() -> None:
    assert assess(_obj("v1", "ConfigMap")) is None
