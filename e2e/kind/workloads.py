"""The config repository the kind run deploys: the shared scenario's example (ConfigMaps and
ClusterIP Services in apps/web and apps/api) plus what only real kubelets can make healthy:

- apps/web/deployment.yaml: a Deployment of the local busybox image running httpd on 8080 with
  a readiness probe, so the `web` Service gets endpoints and Health waits for a Pod to be Ready;
- apps/web/presync-job.yaml: a PreSync hook Job that must complete before the sync applies the
  rest (Argo CD's hook annotations; recreated on each sync: BeforeHookCreation).

`color` is what a commit changes and what the drift step edits on a member.
"""

from __future__ import annotations

import yaml

from e2e.kind.images import WORKLOAD_IMAGE
from e2e.scenario.repo import example_files

HOOK = "argocd.argoproj.io/hook"
HOOK_DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy"
PRESYNC_JOB = "web-presync"


def _deployment(color: str) -> dict[str, object]:
    labels = {"app": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": {"fleet.e2e/color": color}},
                "spec": {
                    "containers": [
                        {
                            "name": "httpd",
                            "image": WORKLOAD_IMAGE,
                            "imagePullPolicy": "Never",
                            "command": ["httpd", "-f", "-p", "8080", "-h", "/www"],
                            "ports": [{"containerPort": 8080, "name": "http"}],
                            "readinessProbe": {
                                "httpGet": {"path": "/", "port": 8080},
                                "periodSeconds": 2,
                            },
                        }
                    ],
                    "terminationGracePeriodSeconds": 1,
                },
            },
        },
    }


def _presync_job() -> dict[str, object]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": PRESYNC_JOB,
            "annotations": {HOOK: "PreSync", HOOK_DELETE_POLICY: "BeforeHookCreation"},
        },
        "spec": {
            "backoffLimit": 2,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "presync",
                            "image": WORKLOAD_IMAGE,
                            "imagePullPolicy": "Never",
                            "command": ["sh", "-c", "echo presync ran at $(date)"],
                        }
                    ],
                    "terminationGracePeriodSeconds": 1,
                }
            },
        },
    }


def kind_repo_files(color: str = "blue") -> dict[str, str]:
    """Path -> content of the kind run's config repository at one `color`."""
    files = dict(example_files())
    files["apps/web/configmap.yaml"] = yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "web-config"},
            "data": {"color": color},
        }
    )
    files["apps/web/deployment.yaml"] = yaml.safe_dump(_deployment(color))
    files["apps/web/presync-job.yaml"] = yaml.safe_dump(_presync_job())
    return files
