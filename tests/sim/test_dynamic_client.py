"""kubernetes_asyncio's DynamicClient (discovery-driven, unstructured) against the simulator."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.dynamic import DynamicClient

from tests.sim.conftest import configmap, deployment

pytestmark = pytest.mark.anyio


async def test_dynamic_client_discovers_and_lists(api_client: client.ApiClient) -> None:
    async with DynamicClient(api_client) as dyn:
        deployments = await dyn.resources.get(api_version="apps/v1", kind="Deployment")
        assert deployments.namespaced
        listed = await dyn.get(deployments, namespace="default", _request_timeout=10)
        assert listed.kind == "DeploymentList"


async def test_dynamic_client_server_side_apply(api_client: client.ApiClient) -> None:
    async with DynamicClient(api_client) as dyn:
        resource = await dyn.resources.get(api_version="apps/v1", kind="Deployment")
        result = await dyn.server_side_apply(
            resource,
            body=deployment("web", replicas=3),
            name="web",
            namespace="default",
            field_manager="dyn",
            _request_timeout=10,
        )
        assert result.spec.replicas == 3
        assert result.metadata.managedFields[0].manager == "dyn"
        assert result.metadata.managedFields[0].operation == "Apply"


async def test_dynamic_client_patch_and_get(api_client: client.ApiClient) -> None:
    async with DynamicClient(api_client) as dyn:
        resource = await dyn.resources.get(api_version="v1", kind="ConfigMap")
        await dyn.create(resource, body=configmap("dyn"), namespace="default", _request_timeout=10)
        await dyn.patch(
            resource,
            body={"data": {"b": "2"}},
            name="dyn",
            namespace="default",
            content_type="application/merge-patch+json",
            _request_timeout=10,
        )
        got = await dyn.get(resource, name="dyn", namespace="default", _request_timeout=10)
        assert dict(got.data) == {"a": "1", "b": "2"}


async def test_dynamic_client_sees_new_crd(api_client: client.ApiClient) -> None:
    from tests.sim.test_discovery import crd

    async with DynamicClient(api_client) as dyn:
        crds = await dyn.resources.get(
            api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
        )
        await dyn.create(crds, body=crd(), _request_timeout=10)
        await dyn.resources.invalidate_cache()
        widgets = await dyn.resources.get(api_version="example.com/v1", kind="Widget")
        created = await dyn.create(
            widgets,
            namespace="default",
            _request_timeout=10,
            body={
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "metadata": {"name": "w"},
                "spec": {"ports": [{"name": "http", "port": 80}]},
            },
        )
        assert created.metadata.generation == 1
