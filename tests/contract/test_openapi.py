"""OpenAPI documents: what kubectl (validation, explain, diff) and client-go's OpenAPISchema()
(Argo CD) read, on both backends."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp
import anyio
import pytest
from kubernetes_asyncio import client

from tests.contract.conftest import TIMEOUT

pytestmark = pytest.mark.anyio

PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
PROTOBUF_REPLY = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


async def _get(
    http: aiohttp.ClientSession, path: str, accept: str = "application/json"
) -> tuple[int, str, bytes]:
    async with http.get(path.lstrip("/"), headers={"Accept": accept}) as response:
        return response.status, response.content_type, await response.read()


async def test_openapi_v2_is_protobuf_when_client_go_asks_and_json_otherwise(
    http: aiohttp.ClientSession,
) -> None:
    status, content_type, body = await _get(http, "openapi/v2", PROTOBUF)
    assert (status, content_type) == (200, PROTOBUF_REPLY)
    assert body[:5] == b"\n\x032.0"  # Document.swagger = "2.0", the first field
    status, content_type, body = await _get(http, "openapi/v2")
    assert (status, content_type) == (200, "application/json")
    document = json.loads(body)
    gvk = document["definitions"]["io.k8s.api.apps.v1.Deployment"][
        "x-kubernetes-group-version-kind"
    ]
    assert gvk == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    status, _, _ = await _get(http, "openapi/v2", "application/yaml")
    assert status == 406


async def test_openapi_v3_says_patch_accepts_field_validation(http: aiohttp.ClientSession) -> None:
    """What kubectl checks before every apply (else it validates against /openapi/v2)."""
    status, _, body = await _get(http, "openapi/v3")
    assert status == 200
    url = json.loads(body)["paths"]["apis/apps/v1"]["serverRelativeURL"]
    status, _, body = await _get(http, url)
    assert status == 200
    document = json.loads(body)
    item = document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    assert "fieldValidation" in {p["name"] for p in item["patch"]["parameters"]}
    schema = document["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    replicas = document["components"]["schemas"]["io.k8s.api.apps.v1.DeploymentSpec"]
    assert replicas["properties"]["replicas"]["type"] == "integer"


def _crd(group: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"dials.{group}"},
        "spec": {
            "group": group,
            "scope": "Cluster",
            "names": {"plural": "dials", "singular": "dial", "kind": "Dial"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "A dial.",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "level": {
                                            "type": "integer",
                                            "description": "How far it is turned.",
                                            "minimum": 0,
                                        },
                                        "port": {"x-kubernetes-int-or-string": True},
                                        "note": {"type": "string", "nullable": True},
                                    },
                                }
                            },
                        }
                    },
                }
            ],
        },
    }


async def test_a_crd_gets_openapi_v3_and_v2_documents(
    api: client.ApiClient, http: aiohttp.ClientSession
) -> None:
    group = f"g{uuid.uuid4().hex[:8]}.contract.fleet.dev"
    await client.ApiextensionsV1Api(api).create_custom_resource_definition(
        _crd(group), _request_timeout=TIMEOUT
    )
    try:
        with anyio.fail_after(60):  # the real server publishes a few seconds after Established
            while True:
                _, _, body = await _get(http, "openapi/v3")
                entry = json.loads(body)["paths"].get(f"apis/{group}/v1")
                if entry is not None:
                    break
                await anyio.sleep(0.2)
        _, _, body = await _get(http, entry["serverRelativeURL"])
        document = json.loads(body)
        name = ".".join(reversed(group.split("."))) + ".v1.Dial"
        dial = document["components"]["schemas"][name]
        assert dial["description"] == "A dial."
        assert dial["x-kubernetes-group-version-kind"] == [
            {"group": group, "kind": "Dial", "version": "v1"}
        ]
        spec = dial["properties"]["spec"]["properties"]
        assert spec["level"] == {
            "description": "How far it is turned.",
            "type": "integer",
            "minimum": 0,
        }
        assert spec["port"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
        assert set(document["paths"]) == {
            f"/apis/{group}/v1/dials",
            f"/apis/{group}/v1/dials/{{name}}",
        }
        with anyio.fail_after(60):
            while True:
                _, _, body = await _get(http, "openapi/v2")
                definitions = json.loads(body)["definitions"]
                if name in definitions:
                    break
                await anyio.sleep(0.2)
        v2 = definitions[name]["properties"]["spec"]["properties"]
        assert "anyOf" not in v2["port"]
        assert "type" not in v2["note"]  # v2 cannot say "string or null": the type goes
        assert definitions[name]["properties"]["metadata"]["$ref"] == (
            "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        )
    finally:
        await client.ApiextensionsV1Api(api).delete_custom_resource_definition(
            f"dials.{group}", _request_timeout=TIMEOUT
        )
