"""Patches other tools write with, and deletion with finalizers and owners."""

from __future__ import annotations

import uuid

import aiohttp
import anyio
import pytest

from tests.contract.objects import config_map, deployment

pytestmark = pytest.mark.anyio


async def _create(http: aiohttp.ClientSession, path: str, body: dict[str, object]) -> None:
    async with http.post(path, json=body) as response:
        assert response.status == 201, await response.text()


async def test_merge_patch_sets_and_null_removes(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    path = f"api/v1/namespaces/{namespace}/configmaps"
    await _create(http, path, config_map("a", {"keep": "1", "drop": "2"}))
    async with http.patch(
        f"{path}/a",
        json={"data": {"drop": None, "new": "3"}},
        headers={"Content-Type": "application/merge-patch+json"},
    ) as response:
        assert (await response.json())["data"] == {"keep": "1", "new": "3"}


async def test_json_patch_applies_operations(http: aiohttp.ClientSession, namespace: str) -> None:
    path = f"api/v1/namespaces/{namespace}/configmaps"
    await _create(http, path, config_map("a", {"k": "1"}))
    async with http.patch(
        f"{path}/a",
        json=[{"op": "replace", "path": "/data/k", "value": "2"}],
        headers={"Content-Type": "application/json-patch+json"},
    ) as response:
        assert (await response.json())["data"] == {"k": "2"}


async def test_strategic_merge_patch_merges_containers_by_name(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    path = f"apis/apps/v1/namespaces/{namespace}/deployments"
    await _create(http, path, deployment("web"))
    patch = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "web", "env": [{"name": "A", "value": "1"}]}]}
            }
        }
    }
    async with http.patch(
        f"{path}/web",
        json=patch,
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    ) as response:
        containers = (await response.json())["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    assert containers[0]["image"] == "nginx:1.27"
    assert containers[0]["env"] == [{"name": "A", "value": "1"}]


async def test_delete_waits_for_finalizers(http: aiohttp.ClientSession, namespace: str) -> None:
    path = f"api/v1/namespaces/{namespace}/configmaps"
    body = config_map("held")
    body["metadata"]["finalizers"] = ["contract.fleet.dev/hold"]
    await _create(http, path, body)
    async with http.delete(f"{path}/held") as response:
        assert response.status in (200, 202)
    async with http.get(f"{path}/held") as response:
        held = await response.json()
    assert held["metadata"]["deletionTimestamp"]
    async with http.patch(
        f"{path}/held",
        json={"metadata": {"finalizers": None}},
        headers={"Content-Type": "application/merge-patch+json"},
    ) as response:
        assert response.status == 200
    with anyio.fail_after(10):
        while True:
            async with http.get(f"{path}/held") as response:
                if response.status == 404:
                    break
            await anyio.sleep(0.1)


async def test_deleting_an_owner_deletes_its_dependents(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    path = f"api/v1/namespaces/{namespace}/configmaps"
    await _create(http, path, config_map("owner"))
    async with http.get(f"{path}/owner") as response:
        uid = (await response.json())["metadata"]["uid"]
    dependent = config_map("dependent")
    dependent["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}
    ]
    await _create(http, path, dependent)
    async with http.delete(f"{path}/owner", json={"propagationPolicy": "Background"}) as response:
        assert response.status in (200, 202)
    with anyio.fail_after(30):
        while True:
            async with http.get(f"{path}/dependent") as response:
                if response.status == 404:
                    break
            await anyio.sleep(0.2)


async def test_deleting_a_namespace_deletes_its_contents_then_itself(
    http: aiohttp.ClientSession,
) -> None:
    name = f"contract-gone-{uuid.uuid4().hex[:8]}"
    await _create(http, "api/v1/namespaces", {"metadata": {"name": name}})
    await _create(http, f"api/v1/namespaces/{name}/configmaps", config_map("content"))
    async with http.delete(f"api/v1/namespaces/{name}") as response:
        assert response.status in (200, 202)
    async with http.get(f"api/v1/namespaces/{name}") as response:
        body = await response.json()
    assert response.status == 404 or body["status"]["phase"] == "Terminating"
    with anyio.fail_after(60):
        while True:
            async with http.get(f"api/v1/namespaces/{name}") as response:
                if response.status == 404:
                    break
            await anyio.sleep(0.3)
    async with http.get(f"api/v1/namespaces/{name}/configmaps/content") as response:
        assert response.status == 404
