"""Discovery: what fleet reads to map kinds to resources, including CRDs created at run time."""

from __future__ import annotations

import uuid

import aiohttp
import anyio
import pytest
from kubernetes_asyncio import client

from tests.contract.conftest import TIMEOUT

pytestmark = pytest.mark.anyio


async def test_version_reports_a_git_version(http: aiohttp.ClientSession) -> None:
    async with http.get("version") as response:
        assert response.status == 200
        assert (await response.json())["gitVersion"].startswith("v1.")


async def test_core_group_lists_v1(http: aiohttp.ClientSession) -> None:
    async with http.get("api") as response:
        assert "v1" in (await response.json())["versions"]


async def test_groups_include_the_workload_kinds(http: aiohttp.ClientSession) -> None:
    async with http.get("apis") as response:
        groups = {group["name"] for group in (await response.json())["groups"]}
    assert {"apps", "batch", "rbac.authorization.k8s.io", "apiextensions.k8s.io"} <= groups


async def test_resource_list_names_kind_scope_and_verbs(http: aiohttp.ClientSession) -> None:
    async with http.get("apis/apps/v1") as response:
        resources = {r["name"]: r for r in (await response.json())["resources"]}
    deployments = resources["deployments"]
    assert deployments["kind"] == "Deployment"
    assert deployments["namespaced"] is True
    assert {"get", "list", "watch", "create", "update", "patch", "delete"} <= set(
        deployments["verbs"]
    )
    assert "deployments/status" in resources


async def test_a_created_crd_appears_in_discovery_and_serves_objects(
    api: client.ApiClient, http: aiohttp.ClientSession, namespace: str
) -> None:
    group = f"g{uuid.uuid4().hex[:8]}.contract.fleet.dev"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                    "subresources": {"status": {}},
                }
            ],
        },
    }
    await client.ApiextensionsV1Api(api).create_custom_resource_definition(
        crd, _request_timeout=TIMEOUT
    )
    with anyio.fail_after(30):
        while True:
            async with http.get(f"apis/{group}/v1") as response:
                if response.status == 200:
                    names = {r["name"] for r in (await response.json())["resources"]}
                    if "widgets" in names:
                        break
            await anyio.sleep(0.2)
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w1"}}
    with anyio.fail_after(30):
        while True:  # the real server may accept discovery before the REST endpoint is live
            async with http.post(
                f"apis/{group}/v1/namespaces/{namespace}/widgets", json=widget
            ) as response:
                if response.status == 201:
                    break
                assert response.status in (404, 503), await response.text()
            await anyio.sleep(0.2)
    async with http.get(f"apis/{group}/v1/namespaces/{namespace}/widgets/w1") as response:
        assert (await response.json())["metadata"]["name"] == "w1"
