"""Minimal valid manifests of the workload kinds the status agent settles."""

from __future__ import annotations

from typing import Any

from e2e.realapi.status_agent import FAIL_ANNOTATION


def _template(app: str, restart: str = "Always") -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {
            "restartPolicy": restart,
            "containers": [{"name": "main", "image": "registry.invalid/app:1"}],
        },
    }


def workload(kind: str, name: str, *, fail: bool = False, replicas: int = 2) -> dict[str, Any]:
    """A `kind` object named `name`; `fail` sets the agent's sim-fail annotation."""
    metadata: dict[str, Any] = {"name": name, "labels": {"app": name}}
    if fail:
        metadata["annotations"] = {FAIL_ANNOTATION: "true"}
    selector = {"matchLabels": {"app": name}}
    if kind == "Pod":
        pod = _template(name, "Never")
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": dict(metadata, labels=dict(pod["metadata"]["labels"])),
            "spec": pod["spec"],
        }
    if kind == "HorizontalPodAutoscaler":
        return {
            "apiVersion": "autoscaling/v2",
            "kind": kind,
            "metadata": metadata,
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": 1,
                "maxReplicas": replicas + 1,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 80},
                        },
                    }
                ],
            },
        }
    if kind == "Job":
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": metadata,
            "spec": {"backoffLimit": 2, "template": _template(name, "Never")},
        }
    spec: dict[str, Any] = {"selector": selector, "template": _template(name)}
    if kind in {"Deployment", "ReplicaSet", "StatefulSet"}:
        spec["replicas"] = replicas
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": metadata, "spec": spec}
