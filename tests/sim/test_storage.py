"""Metadata and storage semantics: resourceVersion, uid, generation, namespaces, status."""

from __future__ import annotations

import asyncio

import pytest

from tests.sim.conftest import CM_PATH, DEPLOY_PATH, Raw, configmap, deployment

pytestmark = pytest.mark.anyio


async def test_create_sets_uid_timestamp_and_string_resource_version(raw: Raw) -> None:
    code, body = await raw.request("POST", CM_PATH, configmap("a"))
    assert code == 201
    meta = body["metadata"]
    assert isinstance(meta["resourceVersion"], str)
    assert len(meta["uid"]) == 36
    assert meta["creationTimestamp"].endswith("Z")
    assert meta["namespace"] == "default"
    assert "generation" not in meta  # configmaps do not track generation


async def test_resource_version_increases_across_resources(raw: Raw) -> None:
    _, a = await raw.request("POST", CM_PATH, configmap("a"))
    _, d = await raw.request("POST", DEPLOY_PATH, deployment("d"))
    _, b = await raw.request("POST", CM_PATH, configmap("b"))
    rvs = [int(x["metadata"]["resourceVersion"]) for x in (a, d, b)]
    assert rvs == sorted(rvs)
    assert len(set(rvs)) == 3


async def test_create_existing_is_409_already_exists(raw: Raw) -> None:
    await raw.request("POST", CM_PATH, configmap("a"))
    code, body = await raw.request("POST", CM_PATH, configmap("a"))
    assert code == 409
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'configmaps "a" already exists'
    assert body["details"] == {"name": "a", "kind": "configmaps"}


async def test_get_missing_is_404_with_status_details(raw: Raw) -> None:
    code, body = await raw.request("GET", DEPLOY_PATH + "/nope")
    assert code == 404
    assert body["message"] == 'deployments.apps "nope" not found'
    assert body["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}


async def test_create_in_missing_namespace_is_404(raw: Raw) -> None:
    code, body = await raw.request("POST", "/api/v1/namespaces/ghost/configmaps", configmap("a"))
    assert code == 404
    assert body["message"] == 'namespaces "ghost" not found'


async def test_invalid_name_is_422(raw: Raw) -> None:
    code, body = await raw.request("POST", CM_PATH, configmap("Bad_Name"))
    assert code == 422
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "metadata.name"


async def test_generate_name(raw: Raw) -> None:
    body = configmap("")
    body["metadata"] = {"generateName": "gen-"}
    code, created = await raw.request("POST", CM_PATH, body)
    assert code == 201
    assert created["metadata"]["name"].startswith("gen-")
    assert len(created["metadata"]["name"]) == len("gen-") + 5


async def test_update_with_stale_resource_version_is_409_conflict(raw: Raw) -> None:
    _, created = await raw.request("POST", CM_PATH, configmap("a"))
    created["data"] = {"a": "2"}
    code, _ = await raw.request("PUT", CM_PATH + "/a", created)
    assert code == 200
    created["data"] = {"a": "3"}
    code, body = await raw.request("PUT", CM_PATH + "/a", created)
    assert code == 409
    assert body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]


async def test_generation_bumps_only_on_spec_change(raw: Raw) -> None:
    _, created = await raw.request("POST", DEPLOY_PATH, deployment("d"))
    assert created["metadata"]["generation"] == 1
    code, labelled = await raw.request(
        "PATCH",
        DEPLOY_PATH + "/d",
        {"metadata": {"labels": {"x": "y"}}},
        content_type="application/merge-patch+json",
    )
    assert code == 200
    assert labelled["metadata"]["generation"] == 1
    _, scaled = await raw.request(
        "PATCH",
        DEPLOY_PATH + "/d",
        {"spec": {"replicas": 3}},
        content_type="application/merge-patch+json",
    )
    assert scaled["metadata"]["generation"] == 2


async def test_noop_update_keeps_resource_version(raw: Raw) -> None:
    _, created = await raw.request("POST", CM_PATH, configmap("a"))
    code, same = await raw.request("PUT", CM_PATH + "/a", created)
    assert code == 200
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_main_resource_write_ignores_status(raw: Raw) -> None:
    await raw.request("POST", DEPLOY_PATH, deployment("d"))
    code, body = await raw.request(
        "PATCH",
        DEPLOY_PATH + "/d",
        {"status": {"replicas": 7}},
        content_type="application/merge-patch+json",
    )
    assert code == 200
    assert body["status"].get("replicas") != 7


async def test_status_subresource_writes_only_status(raw: Raw) -> None:
    _, created = await raw.request("POST", DEPLOY_PATH, deployment("d"))
    created["status"] = {"replicas": 7}
    created["spec"]["replicas"] = 9
    code, body = await raw.request("PUT", DEPLOY_PATH + "/d/status", created)
    assert code == 200
    assert body["status"]["replicas"] == 7
    assert body["spec"]["replicas"] == 1
    assert body["metadata"]["generation"] == 1


async def test_finalizer_keeps_object_until_removed(raw: Raw) -> None:
    await raw.request("POST", CM_PATH, configmap("a", finalizers=["example.com/hold"]))
    code, body = await raw.request("DELETE", CM_PATH + "/a")
    assert code == 200
    assert body["metadata"]["deletionTimestamp"]
    code, still = await raw.request("GET", CM_PATH + "/a")
    assert code == 200
    assert still["metadata"]["finalizers"] == ["example.com/hold"]
    code, _ = await raw.request(
        "PATCH",
        CM_PATH + "/a",
        [{"op": "remove", "path": "/metadata/finalizers"}],
        content_type="application/json-patch+json",
    )
    assert code == 200
    code, _ = await raw.request("GET", CM_PATH + "/a")
    assert code == 404


async def test_delete_returns_success_status(raw: Raw) -> None:
    _, created = await raw.request("POST", CM_PATH, configmap("a"))
    code, body = await raw.request("DELETE", CM_PATH + "/a")
    assert code == 200
    assert body["kind"] == "Status"
    assert body["status"] == "Success"
    assert body["details"] == {
        "name": "a",
        "kind": "configmaps",
        "uid": created["metadata"]["uid"],
    }


async def test_delete_precondition_uid_mismatch_is_409(raw: Raw) -> None:
    await raw.request("POST", CM_PATH, configmap("a"))
    code, body = await raw.request(
        "DELETE", CM_PATH + "/a", {"preconditions": {"uid": "not-the-uid"}}
    )
    assert code == 409
    assert "Precondition failed" in body["message"]


async def test_namespace_deletion_removes_contents(raw: Raw) -> None:
    ns_path = "/api/v1/namespaces"
    await raw.request(
        "POST", ns_path, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}
    )
    await raw.request("POST", ns_path + "/team/configmaps", configmap("a"))
    code, body = await raw.request("DELETE", ns_path + "/team")
    assert code == 200
    assert body["status"]["phase"] == "Terminating"
    for _ in range(50):
        code, _ = await raw.request("GET", ns_path + "/team")
        if code == 404:
            break
        await asyncio.sleep(0.02)
    assert code == 404
    code, listed = await raw.request("GET", "/api/v1/configmaps")
    assert [
        i["metadata"]["name"] for i in listed["items"] if i["metadata"]["namespace"] == "team"
    ] == []


async def test_create_in_terminating_namespace_is_403(raw: Raw) -> None:
    ns_path = "/api/v1/namespaces"
    await raw.request(
        "POST", ns_path, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}
    )
    await raw.request(
        "POST", ns_path + "/team/configmaps", configmap("held", finalizers=["example.com/x"])
    )
    await raw.request("DELETE", ns_path + "/team")
    await asyncio.sleep(0.05)
    code, body = await raw.request("POST", ns_path + "/team/configmaps", configmap("b"))
    assert code == 403
    assert "being terminated" in body["message"]


async def test_secret_string_data_is_encoded(raw: Raw) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": {"password": "hunter2"},
    }
    code, body = await raw.request("POST", "/api/v1/namespaces/default/secrets", secret)
    assert code == 201
    assert body["data"] == {"password": "aHVudGVyMg=="}
    assert "stringData" not in body


async def test_invalid_label_value_is_422(raw: Raw) -> None:
    code, body = await raw.request("POST", CM_PATH, configmap("a", labels={"app": "not ok!"}))
    assert code == 422
    assert body["details"]["causes"][0]["field"] == "metadata.labels"
    assert "a valid label must be an empty string" in body["message"]


async def test_immutable_configmap_data_cannot_change(raw: Raw) -> None:
    body = configmap("a")
    body["immutable"] = True
    await raw.request("POST", CM_PATH, body)
    code, result = await raw.request(
        "PATCH", CM_PATH + "/a", {"data": {"a": "2"}}, content_type="application/merge-patch+json"
    )
    assert code == 422
    assert "field is immutable when `immutable` is set" in result["message"]


async def test_deployment_selector_is_immutable(raw: Raw) -> None:
    await raw.request("POST", DEPLOY_PATH, deployment("d"))
    code, body = await raw.request(
        "PATCH",
        DEPLOY_PATH + "/d",
        {"spec": {"selector": {"matchLabels": {"app": "x"}}}},
        content_type="application/merge-patch+json",
    )
    assert code == 422
    assert body["details"]["causes"][0]["field"] == "spec.selector"
