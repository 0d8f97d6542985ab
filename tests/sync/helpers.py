"""Manifests and small cluster helpers shared by the sync tests."""

from __future__ import annotations

from typing import Any

import anyio
from kubernetes_asyncio import client

from fleet.kube import request_json
from fleet.sync.engine import SyncEngine
from fleet.sync.retry import RetryPolicy
from fleet.sync.spec import AppSpec
from fleet.sync.tracking import AppRef

Obj = dict[str, Any]


def configmap(name: str, data: dict[str, str] | None = None, **annotations: str) -> Obj:
    meta: Obj = {"name": name}
    if annotations:
        meta["annotations"] = {
            k.replace("__", "/").replace("_", "-"): v for k, v in annotations.items()
        }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": data or {"key": name},
    }


def with_annotations(obj: Obj, annotations: dict[str, str]) -> Obj:
    obj["metadata"].setdefault("annotations", {}).update(annotations)
    return obj


def deployment(name: str, image: str = "nginx:1.27", *, failing: bool = False) -> Obj:
    meta: Obj = {"name": name}
    if failing:
        meta["annotations"] = {"fleet.gitops.dev/sim-fail": "true"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            "progressDeadlineSeconds": 60,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


def engine(
    api: client.ApiClient,
    namespace: str,
    *,
    name: str = "app",
    self_heal: bool = False,
    prune: bool = True,
    retry: RetryPolicy | None = None,
    sync_options: tuple[str, ...] = ("CreateNamespace=true",),
    ignore: tuple[Any, ...] = (),
    wave_timeout: float = 20.0,
) -> SyncEngine:
    spec = AppSpec(
        app=AppRef("argocd", f"{name}-{namespace}"),
        namespace=namespace,
        automated=True,
        prune=prune,
        self_heal=self_heal,
        sync_options=frozenset(sync_options),
        ignore=ignore,
        retry=retry or RetryPolicy(),
    )
    return SyncEngine(api, spec, cluster="test", wave_timeout=wave_timeout, health_interval=0.1)


async def get_cm(api: client.ApiClient, namespace: str, name: str) -> Obj | None:
    try:
        found: Obj = await request_json(
            api, "GET", f"/api/v1/namespaces/{namespace}/configmaps/{name}"
        )
    except Exception:
        return None
    return found


def rv(obj: Obj | None) -> int:
    assert obj is not None
    return int(obj["metadata"]["resourceVersion"])


async def manual_edit(api: client.ApiClient, namespace: str, name: str, value: str) -> Obj:
    """Another field manager (`kubectl-edit`) changes data.key with a merge patch."""
    edited: Obj = await request_json(
        api,
        "PATCH",
        f"/api/v1/namespaces/{namespace}/configmaps/{name}",
        body={"data": {"key": value}},
        query={"fieldManager": "kubectl-edit"},
        content_type="application/merge-patch+json",
    )
    return edited


async def gone(api: client.ApiClient, namespace: str, name: str, timeout: float = 10.0) -> bool:
    """True once the ConfigMap is deleted (foreground deletion finishes through the GC)."""
    with anyio.move_on_after(timeout):
        while True:
            live = await get_cm(api, namespace, name)
            if live is None:
                return True
            await anyio.sleep(0.05)
    return False


async def delete_and_await_recreation(
    api: client.ApiClient, namespace: str, name: str, timeout: float = 10.0
) -> None:
    """Delete the ConfigMap by hand; return once a self-healer has created it again."""
    await request_json(api, "DELETE", f"/api/v1/namespaces/{namespace}/configmaps/{name}")
    with anyio.fail_after(timeout):
        while await get_cm(api, namespace, name) is None:
            await anyio.sleep(0.05)
