"""Create, read, update: the metadata semantics fleet relies on to detect change and conflict."""

from __future__ import annotations

import aiohttp
import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from tests.contract.conftest import TIMEOUT
from tests.contract.objects import config_map, deployment

pytestmark = pytest.mark.anyio


async def test_create_fills_uid_resource_version_and_creation_time(
    api: client.ApiClient, namespace: str
) -> None:
    created = await client.CoreV1Api(api).create_namespaced_config_map(
        namespace, config_map("a"), _request_timeout=TIMEOUT
    )
    assert created.metadata.uid
    assert created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None


async def test_creating_an_existing_name_is_a_conflict_already_exists(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    path = f"api/v1/namespaces/{namespace}/configmaps"
    async with http.post(path, json=config_map("dup")) as response:
        assert response.status == 201
    async with http.post(path, json=config_map("dup")) as response:
        status = await response.json()
    assert response.status == 409
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "AlreadyExists", 409)
    assert status["details"]["name"] == "dup"


async def test_getting_a_missing_object_is_not_found(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    async with http.get(f"api/v1/namespaces/{namespace}/configmaps/missing") as response:
        status = await response.json()
    assert response.status == 404
    assert (status["status"], status["reason"]) == ("Failure", "NotFound")


async def test_creating_in_a_missing_namespace_is_not_found(api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as caught:
        await client.CoreV1Api(api).create_namespaced_config_map(
            "no-such-namespace", config_map("a"), _request_timeout=TIMEOUT
        )
    assert caught.value.status == 404


async def test_an_update_with_a_stale_resource_version_is_a_conflict(
    api: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api)
    created = await core.create_namespaced_config_map(
        namespace, config_map("a", {"k": "1"}), _request_timeout=TIMEOUT
    )
    stale = created.metadata.resource_version
    created.data = {"k": "2"}
    await core.replace_namespaced_config_map("a", namespace, created, _request_timeout=TIMEOUT)
    body = config_map("a", {"k": "3"})
    body["metadata"]["resourceVersion"] = stale
    with pytest.raises(ApiException) as caught:
        await core.replace_namespaced_config_map("a", namespace, body, _request_timeout=TIMEOUT)
    assert caught.value.status == 409


async def test_generation_starts_at_one_and_moves_only_with_the_spec(
    api: client.ApiClient, namespace: str
) -> None:
    apps = client.AppsV1Api(api)
    created = await apps.create_namespaced_deployment(
        namespace, deployment("web"), _request_timeout=TIMEOUT
    )
    assert created.metadata.generation == 1
    labelled = await apps.patch_namespaced_deployment(
        "web",
        namespace,
        {"metadata": {"labels": {"tier": "front"}}},
        _content_type="application/merge-patch+json",
        _request_timeout=TIMEOUT,
    )
    assert labelled.metadata.generation == 1
    scaled = await apps.patch_namespaced_deployment(
        "web",
        namespace,
        {"spec": {"replicas": 3}},
        _content_type="application/merge-patch+json",
        _request_timeout=TIMEOUT,
    )
    assert scaled.metadata.generation == 2


async def test_status_is_written_only_through_the_status_subresource(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    path = f"apis/apps/v1/namespaces/{namespace}/deployments"
    async with http.post(path, json=deployment("web")) as response:
        assert response.status == 201
    merge = {"Content-Type": "application/merge-patch+json"}
    async with http.patch(
        f"{path}/web", json={"status": {"observedGeneration": 7}}, headers=merge
    ) as response:
        assert response.status == 200
        assert (await response.json()).get("status", {}).get("observedGeneration") != 7
    async with http.patch(
        f"{path}/web/status",
        json={"status": {"observedGeneration": 7}, "spec": {"replicas": 5}},
        headers=merge,
    ) as response:
        assert response.status == 200
        patched = await response.json()
    assert patched["status"]["observedGeneration"] == 7
    assert patched["spec"]["replicas"] == 1
    assert patched["metadata"]["generation"] == 1
