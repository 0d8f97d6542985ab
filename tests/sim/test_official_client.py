"""The official synchronous `kubernetes` client against the simulator (run in a thread)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from fleet.sim import SimCluster
from tests.sim.conftest import configmap, deployment

kubernetes = pytest.importorskip("kubernetes", reason="official kubernetes client not installed")
pytestmark = pytest.mark.anyio


def _api(kubeconfig: Path) -> Any:
    return kubernetes.config.new_client_from_config(config_file=str(kubeconfig))


async def test_official_client_get(cluster: SimCluster) -> None:
    def run() -> str:
        with _api(cluster.kubeconfig) as api:
            ns = kubernetes.client.CoreV1Api(api).read_namespace("default", _request_timeout=10)
            return str(ns.status.phase)

    assert await asyncio.to_thread(run) == "Active"


async def test_official_client_server_side_apply(cluster: SimCluster) -> None:
    def run() -> tuple[int, list[str]]:
        with _api(cluster.kubeconfig) as api:
            dyn = kubernetes.dynamic.DynamicClient(api)
            resource = dyn.resources.get(api_version="apps/v1", kind="Deployment")
            body = deployment("web", replicas=2)
            result = resource.server_side_apply(
                body=body, name="web", namespace="default", field_manager="official"
            )
            managers = [m.manager for m in result.metadata.managedFields]
            return int(result.spec.replicas), managers

    replicas, managers = await asyncio.to_thread(run)
    assert replicas == 2
    assert "official" in managers


async def test_official_client_delete(cluster: SimCluster) -> None:
    def run() -> int:
        with _api(cluster.kubeconfig) as api:
            core = kubernetes.client.CoreV1Api(api)
            core.create_namespaced_config_map("default", configmap("gone"), _request_timeout=10)
            core.delete_namespaced_config_map("gone", "default", _request_timeout=10)
            try:
                core.read_namespaced_config_map("gone", "default", _request_timeout=10)
            except kubernetes.client.ApiException as exc:
                return int(exc.status)
            return 200

    assert await asyncio.to_thread(run) == 404


async def test_official_client_watch(cluster: SimCluster) -> None:
    def run() -> list[tuple[str, str]]:
        with _api(cluster.kubeconfig) as api:
            core = kubernetes.client.CoreV1Api(api)
            rv = core.list_namespaced_config_map("default").metadata.resource_version
            core.create_namespaced_config_map("default", configmap("seen"), _request_timeout=10)
            w = kubernetes.watch.Watch()
            seen = []
            for event in w.stream(
                core.list_namespaced_config_map,
                "default",
                resource_version=rv,
                timeout_seconds=2,
                _request_timeout=10,
            ):
                seen.append((event["type"], event["object"].metadata.name))
                w.stop()
            return seen

    assert await asyncio.to_thread(run) == [("ADDED", "seen")]
