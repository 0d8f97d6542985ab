"""Argo CD's built-in health rules for the workload kinds, as a test oracle.

A transcription of gitops-engine's ``pkg/health`` (health_deployment.go, health_replicaset.go,
health_statefulset.go, health_daemonset.go, health_job.go, health_pod.go, health_hpa.go) for
``apps/v1``, ``batch/v1``, ``autoscaling/v2`` and ``v1`` Pod objects as dicts. The status agent
and the simulator must produce statuses these rules read as Healthy, or Degraded when failing,
because fleet's users read health the Argo CD way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _condition(status: Mapping[str, Any], ctype: str) -> Mapping[str, Any] | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") == ctype:
            return condition  # type: ignore[no-any-return]
    return None


def health(obj: Mapping[str, Any]) -> str:
    """Healthy, Progressing, Degraded or Suspended, as Argo CD would say."""
    kind = obj["kind"]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    generation = _int((obj.get("metadata") or {}).get("generation"))
    observed = _int(status.get("observedGeneration"))
    replicas = spec.get("replicas")
    if kind == "Deployment":
        if spec.get("paused"):
            return "Suspended"
        if generation > observed:
            return "Progressing"
        progressing = _condition(status, "Progressing")
        if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
            return "Degraded"
        updated = _int(status.get("updatedReplicas"))
        if replicas is not None and updated < replicas:
            return "Progressing"
        if _int(status.get("replicas")) > updated:
            return "Progressing"
        if _int(status.get("availableReplicas")) < updated:
            return "Progressing"
        return "Healthy"
    if kind == "ReplicaSet":
        if generation > observed:
            return "Progressing"
        failure = _condition(status, "ReplicaFailure")
        if failure is not None and failure.get("status") == "True":
            return "Degraded"
        if replicas is not None and _int(status.get("availableReplicas")) < replicas:
            return "Progressing"
        return "Healthy"
    if kind == "StatefulSet":
        if observed == 0 or generation > observed:
            return "Progressing"
        if replicas is not None and _int(status.get("readyReplicas")) < replicas:
            return "Progressing"
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type") == "RollingUpdate" and strategy.get("rollingUpdate") is not None:
            partition = strategy["rollingUpdate"].get("partition")
            if (
                replicas is not None
                and partition is not None
                and _int(status.get("updatedReplicas")) < replicas - partition
            ):
                return "Progressing"
            return "Healthy"
        if strategy.get("type") == "OnDelete":
            return "Healthy"
        if status.get("updateRevision") != status.get("currentRevision"):
            return "Progressing"
        return "Healthy"
    if kind == "DaemonSet":
        if generation > observed:
            return "Progressing"
        if (spec.get("updateStrategy") or {}).get("type") == "OnDelete":
            return "Healthy"
        desired = _int(status.get("desiredNumberScheduled"))
        if _int(status.get("updatedNumberScheduled")) < desired:
            return "Progressing"
        if _int(status.get("numberAvailable")) < desired:
            return "Progressing"
        return "Healthy"
    if kind == "Job":
        failed = complete = suspended = False
        for condition in status.get("conditions") or []:
            ctype = condition.get("type")
            if ctype == "Failed":
                failed = complete = True
            elif ctype == "Complete":
                complete = True
            elif ctype == "Suspended":
                complete = True
                suspended = condition.get("status") == "True"
        if not complete:
            return "Progressing"
        if failed:
            return "Degraded"
        return "Suspended" if suspended else "Healthy"
    if kind == "Pod":
        restart = spec.get("restartPolicy") or "Always"
        containers = status.get("containerStatuses") or []
        if restart == "Always":
            for container in containers:
                reason = ((container.get("state") or {}).get("waiting") or {}).get("reason", "")
                if reason.startswith("Err") or reason.endswith(("Error", "BackOff")):
                    return "Degraded"
        phase = status.get("phase")
        if phase in (None, "Pending"):
            return "Progressing"
        if phase == "Succeeded":
            return "Healthy"
        if phase == "Failed":
            return "Degraded"
        if phase == "Running" and restart == "Always":
            ready = _condition(status, "Ready")
            is_ready = ready is not None and ready.get("status") == "True"
            return "Healthy" if is_ready else "Progressing"
        return "Progressing" if phase == "Running" else "Unknown"
    if kind == "HorizontalPodAutoscaler":
        # The first condition with a known (type, reason) decides; none: waiting to autoscale.
        for condition in status.get("conditions") or []:
            key = (condition.get("type"), condition.get("reason"))
            if key in {
                ("AbleToScale", "FailedGetScale"),
                ("AbleToScale", "FailedUpdateScale"),
                ("ScalingActive", "FailedGetResourceMetric"),
                ("ScalingActive", "InvalidSelector"),
            }:
                return "Degraded"
            if key in {
                ("AbleToScale", "SucceededRescale"),
                ("ScalingLimited", "DesiredWithinRange"),
                ("ScalingLimited", "TooFewReplicas"),
                ("ScalingLimited", "TooManyReplicas"),
            }:
                return "Healthy"
        return "Progressing"
    raise ValueError(f"no health rule for {kind}")
