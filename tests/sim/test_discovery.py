"""Legacy discovery documents, and CRDs showing up in discovery and becoming servable."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.sim.conftest import Raw

pytestmark = pytest.mark.anyio


def crd(scope: str = "Namespaced", status: bool = True) -> dict[str, Any]:
    version: dict[str, Any] = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {
            "openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "spec": {
                        "type": "object",
                        "properties": {
                            "size": {"type": "integer"},
                            "mode": {"type": "string", "enum": ["fast", "slow"]},
                            "ports": {
                                "type": "array",
                                "x-kubernetes-list-type": "map",
                                "x-kubernetes-list-map-keys": ["name"],
                                "items": {
                                    "type": "object",
                                    "required": ["name"],
                                    "properties": {
                                        "name": {"type": "string"},
                                        "port": {"type": "integer"},
                                    },
                                },
                            },
                        },
                    },
                    "status": {
                        "type": "object",
                        "properties": {
                            "ready": {"type": "boolean"},
                            "phase": {"type": "string"},
                        },
                    },
                },
            }
        },
    }
    if status:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": scope,
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wd"],
            },
            "versions": [version],
        },
    }


CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


async def test_version_reports_kubernetes_1_32(raw: Raw) -> None:
    code, body = await raw.request("GET", "/version")
    assert code == 200
    assert (body["major"], body["minor"]) == ("1", "32")


async def test_core_api_versions(raw: Raw) -> None:
    code, body = await raw.request("GET", "/api")
    assert code == 200
    assert body["kind"] == "APIVersions"
    assert body["versions"] == ["v1"]


async def test_apps_resource_list_has_verbs_kind_shortnames(raw: Raw) -> None:
    code, body = await raw.request("GET", "/apis/apps/v1")
    assert code == 200
    assert body["kind"] == "APIResourceList"
    assert body["groupVersion"] == "apps/v1"
    by_name = {r["name"]: r for r in body["resources"]}
    deploy = by_name["deployments"]
    assert deploy["kind"] == "Deployment"
    assert deploy["namespaced"] is True
    assert deploy["singularName"] == "deployment"
    assert deploy["shortNames"] == ["deploy"]
    assert "patch" in deploy["verbs"]
    assert "watch" in deploy["verbs"]
    assert by_name["deployments/status"]["verbs"] == ["get", "patch", "update"]


async def test_group_list_has_builtin_groups(raw: Raw) -> None:
    code, body = await raw.request("GET", "/apis")
    assert code == 200
    names = {g["name"] for g in body["groups"]}
    assert {
        "apps",
        "batch",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "coordination.k8s.io",
        "apiextensions.k8s.io",
    } <= names
    code, group = await raw.request("GET", "/apis/batch")
    assert group["preferredVersion"] == {"groupVersion": "batch/v1", "version": "v1"}


async def test_unknown_group_is_404(raw: Raw) -> None:
    code, body = await raw.request("GET", "/apis/example.com/v1")
    assert code == 404
    assert body["reason"] == "NotFound"


async def test_crd_appears_in_discovery(raw: Raw) -> None:
    code, created = await raw.request("POST", CRD_PATH, crd())
    assert code == 201
    conditions = {c["type"]: c["status"] for c in created["status"]["conditions"]}
    assert conditions["Established"] == "True"
    _, groups = await raw.request("GET", "/apis")
    assert "example.com" in {g["name"] for g in groups["groups"]}
    code, resources = await raw.request("GET", "/apis/example.com/v1")
    assert code == 200
    names = {r["name"]: r for r in resources["resources"]}
    assert names["widgets"]["kind"] == "Widget"
    assert names["widgets"]["shortNames"] == ["wd"]
    assert "widgets/status" in names


async def test_namespaced_custom_resource_is_served(raw: Raw) -> None:
    await raw.request("POST", CRD_PATH, crd())
    path = "/apis/example.com/v1/namespaces/default/widgets"
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 1},
        "status": {"ready": True},
    }
    code, body = await raw.request("POST", path, widget)
    assert code == 201
    assert body["metadata"]["generation"] == 1
    assert "status" not in body  # status subresource: create ignores status
    code, listed = await raw.request("GET", path)
    assert code == 200
    assert listed["kind"] == "WidgetList"
    assert listed["items"][0]["kind"] == "Widget"  # unstructured lists keep item kinds
    code, status = await raw.request(
        "PATCH",
        path + "/w/status",
        {"status": {"ready": True}},
        content_type="application/merge-patch+json",
    )
    assert code == 200
    assert status["status"] == {"ready": True}
    assert status["metadata"]["generation"] == 1


async def test_cluster_scoped_custom_resource_is_served(raw: Raw) -> None:
    await raw.request("POST", CRD_PATH, crd(scope="Cluster", status=False))
    path = "/apis/example.com/v1/widgets"
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    code, body = await raw.request("POST", path, widget)
    assert code == 201
    assert "namespace" not in body["metadata"]
    code, _ = await raw.request("GET", "/apis/example.com/v1/namespaces/default/widgets")
    assert code == 404


async def test_deleting_crd_stops_serving_and_removes_objects(raw: Raw) -> None:
    await raw.request("POST", CRD_PATH, crd())
    path = "/apis/example.com/v1/namespaces/default/widgets"
    await raw.request(
        "POST", path, {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    )
    code, _ = await raw.request("DELETE", CRD_PATH + "/widgets.example.com")
    assert code == 200
    code, _ = await raw.request("GET", path)
    assert code == 404
    await raw.request("POST", CRD_PATH, crd())
    _, listed = await raw.request("GET", path)
    assert listed["items"] == []


async def test_strategic_merge_patch_on_custom_resource_is_415(raw: Raw) -> None:
    await raw.request("POST", CRD_PATH, crd())
    path = "/apis/example.com/v1/namespaces/default/widgets"
    await raw.request(
        "POST", path, {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    )
    code, body = await raw.request(
        "PATCH", path + "/w", {"spec": {}}, content_type="application/strategic-merge-patch+json"
    )
    assert code == 415
    assert body["reason"] == "UnsupportedMediaType"


async def test_custom_resource_without_status_subresource_keeps_status(raw: Raw) -> None:
    await raw.request("POST", CRD_PATH, crd(status=False))
    path = "/apis/example.com/v1/namespaces/default/widgets"
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "status": {"phase": "new"},
    }
    code, body = await raw.request("POST", path, widget)
    assert code == 201
    assert body["status"] == {"phase": "new"}
    code, _ = await raw.request("GET", path + "/w/status")
    assert code == 404


async def test_custom_resource_put_without_resource_version_is_422(raw: Raw) -> None:
    await raw.request("POST", CRD_PATH, crd())
    path = "/apis/example.com/v1/namespaces/default/widgets"
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    await raw.request("POST", path, widget)
    code, body = await raw.request("PUT", path + "/w", widget)
    assert code == 422
    assert "resourceVersion" in body["message"]


async def test_custom_resource_ssa_uses_schema_list_keys(raw: Raw) -> None:
    await raw.request("POST", CRD_PATH, crd())
    path = "/apis/example.com/v1/namespaces/default/widgets/w"
    apply = "application/apply-patch+yaml"

    def widget(ports: list[dict[str, object]]) -> bytes:
        doc = {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"ports": ports},
        }
        return json.dumps(doc).encode()

    await raw.request(
        "PATCH",
        path,
        widget([{"name": "http", "port": 80}]),
        content_type=apply,
        params={"fieldManager": "a"},
    )
    code, body = await raw.request(
        "PATCH",
        path,
        widget([{"name": "grpc", "port": 90}]),
        content_type=apply,
        params={"fieldManager": "b"},
    )
    assert code == 200
    assert [p["name"] for p in body["spec"]["ports"]] == ["http", "grpc"]
    owned = {m["manager"]: m["fieldsV1"] for m in body["metadata"]["managedFields"]}
    assert 'k:{"name":"grpc"}' in owned["b"]["f:spec"]["f:ports"]


WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"


def widget(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": spec,
    }


async def test_undeclared_fields_are_pruned(raw: Raw) -> None:
    await raw.request("POST", CRD_PATH, crd())
    headers = {"Authorization": f"Bearer {raw.token}"}
    async with raw.session.post(
        raw.cluster.server + WIDGETS, json=widget({"size": 2, "colour": "red"}), headers=headers
    ) as response:
        assert response.status == 201
        assert response.headers.getall("Warning") == ['299 - "unknown field \\"spec.colour\\""']
        body = await response.json()
    assert body["spec"] == {"size": 2}


async def test_strict_field_validation_rejects_undeclared_fields(raw: Raw) -> None:
    await raw.request("POST", CRD_PATH, crd())
    code, body = await raw.request(
        "POST", WIDGETS, widget({"size": 2, "colour": "red"}), params={"fieldValidation": "Strict"}
    )
    assert code == 400
    assert body["message"] == (
        'Widget in version "v1" cannot be handled as a Widget: strict decoding error: '
        'unknown field "spec.colour"'
    )


async def test_wrong_type_is_422(raw: Raw) -> None:
    await raw.request("POST", CRD_PATH, crd())
    code, body = await raw.request("POST", WIDGETS, widget({"size": "big"}))
    assert code == 422
    cause = body["details"]["causes"][0]
    assert cause["field"] == "spec.size"
    assert "must be of type integer" in cause["message"]


async def test_enum_and_required_are_checked(raw: Raw) -> None:
    await raw.request("POST", CRD_PATH, crd())
    code, body = await raw.request("POST", WIDGETS, widget({"mode": "warp"}))
    assert code == 422
    assert body["details"]["causes"][0]["reason"] == "FieldValueNotSupported"
    code, body = await raw.request("POST", WIDGETS, widget({"ports": [{"port": 80}]}))
    assert code == 422
    assert body["details"]["causes"][0]["field"] == "spec.ports[0].name"
