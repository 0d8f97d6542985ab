"""Hook manifests and cluster reads shared by the hook tests."""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio.client import ApiClient

from fleet.kube import NotFound, request_json

Obj = dict[str, Any]
FAIL = "fleet.gitops.dev/sim-fail"


def job(
    name: str,
    hook: str = "PreSync",
    *,
    failing: bool = False,
    wave: int | None = None,
    policy: str | None = None,
    generate_name: bool = False,
    suspend: bool = False,
    image: str = "migrate:1",
    annotations: dict[str, str] | None = None,
) -> Obj:
    """A Job hook (`argocd.argoproj.io/hook: hook`); `failing` asks the status agents to fail
    it, `suspend` keeps it running until resumed."""
    notes: dict[str, str] = {"argocd.argoproj.io/hook": hook} if hook else {}
    if failing:
        notes[FAIL] = "true"
    if wave is not None:
        notes["argocd.argoproj.io/sync-wave"] = str(wave)
    if policy is not None:
        notes["argocd.argoproj.io/hook-delete-policy"] = policy
    notes.update(annotations or {})
    meta: Obj = {"annotations": notes}
    meta["generateName" if generate_name else "name"] = name
    spec: Obj = {
        "backoffLimit": 1,
        "template": {
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": image}],
            }
        },
    }
    if suspend:
        spec["suspend"] = True
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": spec}


def pod(name: str, hook: str = "PreSync", *, failing: bool = False) -> Obj:
    notes = {"argocd.argoproj.io/hook": hook}
    if failing:
        notes[FAIL] = "true"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": notes},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "check:1"}],
        },
    }


async def read(api: ApiClient, namespace: str, kind: str, name: str) -> Obj | None:
    path = {
        "Job": f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}",
        "Pod": f"/api/v1/namespaces/{namespace}/pods/{name}",
        "Deployment": f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
        "ConfigMap": f"/api/v1/namespaces/{namespace}/configmaps/{name}",
    }[kind]
    try:
        found: Obj = await request_json(api, "GET", path)
    except NotFound:
        return None
    return found


async def jobs(api: ApiClient, namespace: str) -> list[Obj]:
    found: Any = await request_json(api, "GET", f"/apis/batch/v1/namespaces/{namespace}/jobs")
    items: list[Obj] = found.get("items") or []
    return items


def image_of(deployment: Obj | None) -> str:
    assert deployment is not None
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def hook_results(op_dict: Obj) -> list[Obj]:
    resources: list[Obj] = op_dict["syncResult"]["resources"]
    return [r for r in resources if r.get("hookType")]
