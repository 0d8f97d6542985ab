"""OpenAPI v2/v3 documents (real 1.36 ones, cut to what is served, plus CRDs) and unknown fields
of built-in kinds."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from fleet.sim import openapi_pb
from fleet.sim.openapi import V2_PROTOBUF_CONTENT_TYPE, schema_hash
from tests.sim.conftest import CM_PATH, DEPLOY_PATH, Raw, configmap, deployment
from tests.sim.test_discovery import CRD_PATH, crd

pytestmark = pytest.mark.anyio

PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


async def _get(raw: Raw, path: str, accept: str = "") -> tuple[int, str, bytes]:
    headers = {"Authorization": f"Bearer {raw.token}"}
    if accept:
        headers["Accept"] = accept
    async with raw.session.get(raw.cluster.server + path, headers=headers) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.read()


def _definitions(document: bytes) -> dict[str, bytes]:
    """name -> Schema bytes of a protobuf v2 document (repeated `definitions` merged)."""
    out = {}
    for number, payload in openapi_pb.fields(document):
        if number == openapi_pb.DOCUMENT_DEFINITIONS:
            for _, named in openapi_pb.fields(payload):
                parts = dict(openapi_pb.fields(named))
                out[parts[1].decode()] = parts[2]
    return out


async def test_openapi_v2_is_protobuf_for_client_go_json_by_default_406_otherwise(
    raw: Raw,
) -> None:
    code, content_type, body = await _get(raw, "/openapi/v2", PROTOBUF)
    assert code == 200
    assert content_type == V2_PROTOBUF_CONTENT_TYPE
    first = next(openapi_pb.fields(body))
    assert first == (1, b"2.0")  # Document.swagger
    assert "io.k8s.api.apps.v1.Deployment" in _definitions(body)
    code, content_type, body = await _get(raw, "/openapi/v2")
    assert (code, content_type) == (200, "application/json")
    document = json.loads(body)
    assert document["swagger"] == "2.0"
    assert "io.k8s.api.apps.v1.Deployment" in document["definitions"]
    code, _, body = await _get(raw, "/openapi/v2", "application/json;q=0.9," + PROTOBUF)
    assert code == 200 and not body.startswith(b"{")
    code, _, _ = await _get(raw, "/openapi/v2", "application/yaml")
    assert code == 406


async def test_openapi_documents_name_only_what_the_cluster_serves(raw: Raw) -> None:
    _, _, body = await _get(raw, "/openapi/v3")
    index = json.loads(body)["paths"]
    assert "apis/apps/v1" in index
    assert "apis/storage.k8s.io/v1" not in index  # the minimal profile serves no storage kinds
    url = index["api/v1"]["serverRelativeURL"]
    _, _, doc_body = await _get(raw, url)
    assert url.endswith("hash=" + schema_hash(doc_body))
    paths = json.loads(doc_body)["paths"]
    assert "/api/v1/namespaces/{namespace}/configmaps/{name}" in paths
    assert not [p for p in paths if "/nodes" in p or "/watch/" in p or p.endswith("/log")]
    _, _, v2 = await _get(raw, "/openapi/v2")
    assert not [p for p in json.loads(v2)["paths"] if "/nodes" in p]


async def test_openapi_v3_documents_are_cacheable_by_their_hash(raw: Raw) -> None:
    _, _, body = await _get(raw, "/openapi/v3")
    url = json.loads(body)["paths"]["apis/apps/v1"]["serverRelativeURL"]
    headers = {"Authorization": f"Bearer {raw.token}"}
    async with raw.session.get(raw.cluster.server + url, headers=headers) as response:
        assert response.headers["Cache-Control"] == "public, immutable"
        assert response.headers["Etag"].strip('"') == url.rsplit("=", 1)[1]
    code, _, _ = await _get(raw, "/openapi/v3/apis/nothing.example.com/v1")
    assert code == 404


async def test_a_crd_adds_and_removes_its_openapi_documents(raw: Raw) -> None:
    code, body = await raw.request("POST", CRD_PATH, crd())
    assert code == 201, body
    _, _, root = await _get(raw, "/openapi/v3")
    url = json.loads(root)["paths"]["apis/example.com/v1"]["serverRelativeURL"]
    _, _, doc_body = await _get(raw, url)
    document = json.loads(doc_body)
    schema = document["components"]["schemas"]["com.example.v1.Widget"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "kind": "Widget", "version": "v1"}
    ]
    assert schema["properties"]["spec"]["properties"]["mode"]["enum"] == ["fast", "slow"]
    assert schema["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    ]
    patch = document["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    assert "com.example.v1.WidgetList" in document["components"]["schemas"]
    _, _, v2 = await _get(raw, "/openapi/v2")
    definition = json.loads(v2)["definitions"]["com.example.v1.Widget"]
    assert definition["properties"]["metadata"]["$ref"].endswith("meta.v1.ObjectMeta")
    _, _, v2_proto = await _get(raw, "/openapi/v2", PROTOBUF)
    assert "com.example.v1.Widget" in _definitions(v2_proto)
    code, _ = await raw.request("DELETE", CRD_PATH + "/widgets.example.com")
    assert code == 200
    _, _, root = await _get(raw, "/openapi/v3")
    assert "apis/example.com/v1" not in json.loads(root)["paths"]
    _, _, v2_proto = await _get(raw, "/openapi/v2", PROTOBUF)
    assert "com.example.v1.Widget" not in _definitions(v2_proto)


async def test_a_changed_crd_schema_changes_its_document_and_hash(raw: Raw) -> None:
    await raw.request("POST", CRD_PATH, crd())
    _, _, root = await _get(raw, "/openapi/v3")
    before = json.loads(root)["paths"]["apis/example.com/v1"]["serverRelativeURL"]
    changed: dict[str, Any] = copy.deepcopy(crd())
    spec = changed["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["colour"] = {"type": "string", "description": "added later"}
    code, body = await raw.request(
        "PATCH",
        CRD_PATH + "/widgets.example.com",
        changed,
        content_type="application/apply-patch+yaml",
        params={"fieldManager": "test", "force": "true"},
    )
    assert code == 200, body
    _, _, root = await _get(raw, "/openapi/v3")
    after = json.loads(root)["paths"]["apis/example.com/v1"]["serverRelativeURL"]
    assert after != before
    _, _, doc = await _get(raw, after)
    widget = json.loads(doc)["components"]["schemas"]["com.example.v1.Widget"]
    assert widget["properties"]["spec"]["properties"]["colour"]["description"] == "added later"


async def test_an_unknown_field_of_a_builtin_kind_is_dropped_with_a_warning(raw: Raw) -> None:
    body = {**configmap("loose"), "extra": 1}
    headers = {"Authorization": f"Bearer {raw.token}", "Content-Type": "application/json"}
    async with raw.session.post(
        raw.cluster.server + CM_PATH, data=json.dumps(body), headers=headers
    ) as response:
        assert response.status == 201
        assert response.headers.getall("Warning") == ['299 - "unknown field \\"extra\\""']
        assert "extra" not in await response.json()
    code, stored = await raw.request("GET", CM_PATH + "/loose")
    assert code == 200 and "extra" not in stored


async def test_an_unknown_field_of_a_builtin_kind_is_refused_under_strict_validation(
    raw: Raw,
) -> None:
    body = deployment("strict")
    body["spec"]["bogus"] = 1
    code, status = await raw.request(
        "POST", DEPLOY_PATH, body, params={"fieldValidation": "Strict"}
    )
    assert code == 400
    assert status["message"] == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.bogus"'
    )
    code, _ = await raw.request("GET", DEPLOY_PATH + "/strict")
    assert code == 404


async def test_server_side_apply_of_an_unknown_field_fails_as_on_a_real_server(raw: Raw) -> None:
    body = deployment("typed")
    body["spec"]["template"]["spec"]["containers"][0]["nope"] = 2
    code, status = await raw.request(
        "PATCH",
        DEPLOY_PATH + "/typed",
        body,
        content_type="application/apply-patch+yaml",
        params={"fieldManager": "test"},
    )
    assert code == 500
    assert status["message"] == (
        "failed to create typed patch object (/typed; apps/v1, Kind=Deployment): "
        '.spec.template.spec.containers[name="app"].nope: field not declared in schema'
    )


def _nested_crd(levels: int) -> bytes:
    schema = '{"type":"string"}'
    for _ in range(levels):
        schema = '{"type":"object","properties":{"a":' + schema + "}}"
    return (
        '{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",'
        '"metadata":{"name":"nests.example.com"},"spec":{"group":"example.com",'
        '"scope":"Namespaced","names":{"plural":"nests","kind":"Nest"},"versions":[{"name":"v1",'
        '"served":true,"storage":true,"schema":{"openAPIV3Schema":' + schema + "}}]}}"
    ).encode()


async def test_a_request_nested_too_deeply_is_refused_at_once(raw: Raw) -> None:
    """A body deeper than Python's stack is a 400, not minutes of traceback rendering that
    stalled every cluster of the server (the event loop) before."""
    code, status = await raw.request("POST", CRD_PATH, _nested_crd(440))
    assert code == 400
    assert "nested too deeply" in status["message"]
    code, _ = await raw.request("GET", CM_PATH)  # the server still answers
    assert code == 200


async def test_a_crd_schema_nested_beyond_the_limit_is_published_without_its_fields(
    raw: Raw,
) -> None:
    code, body = await raw.request("POST", CRD_PATH, _nested_crd(150))
    assert code == 201, body
    _, _, root = await _get(raw, "/openapi/v3")
    url = json.loads(root)["paths"]["apis/example.com/v1"]["serverRelativeURL"]
    _, _, doc = await _get(raw, url)
    nest = json.loads(doc)["components"]["schemas"]["com.example.v1.Nest"]
    assert nest == {
        "type": "object",
        "x-kubernetes-group-version-kind": [
            {"group": "example.com", "kind": "Nest", "version": "v1"}
        ],
    }
    code, _, v2 = await _get(raw, "/openapi/v2", PROTOBUF)
    assert code == 200 and "com.example.v1.Nest" in _definitions(v2)
