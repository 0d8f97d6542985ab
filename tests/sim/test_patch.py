"""PATCH with merge, JSON and strategic merge patches."""

from __future__ import annotations

import pytest

from fleet.sim.kinds import BUILTIN_SCHEMA
from fleet.sim.patch import strategic_merge_patch
from tests.sim.conftest import CM_PATH, DEPLOY_PATH, Raw, configmap, deployment

pytestmark = pytest.mark.anyio

SMP = "application/strategic-merge-patch+json"


async def test_merge_patch_sets_and_deletes_keys(raw: Raw) -> None:
    await raw.request("POST", CM_PATH, configmap("a", {"x": "1", "y": "2"}))
    code, body = await raw.request(
        "PATCH",
        CM_PATH + "/a",
        {"data": {"x": None, "z": "3"}},
        content_type="application/merge-patch+json",
    )
    assert code == 200
    assert body["data"] == {"y": "2", "z": "3"}


async def test_json_patch_operations(raw: Raw) -> None:
    await raw.request("POST", CM_PATH, configmap("a", {"x": "1"}))
    ops = [
        {"op": "add", "path": "/data/y", "value": "2"},
        {"op": "replace", "path": "/data/x", "value": "9"},
        {"op": "test", "path": "/data/y", "value": "2"},
        {"op": "copy", "from": "/data/x", "path": "/data/z"},
    ]
    code, body = await raw.request(
        "PATCH", CM_PATH + "/a", ops, content_type="application/json-patch+json"
    )
    assert code == 200
    assert body["data"] == {"x": "9", "y": "2", "z": "9"}


async def test_json_patch_failed_test_is_422(raw: Raw) -> None:
    await raw.request("POST", CM_PATH, configmap("a", {"x": "1"}))
    code, _ = await raw.request(
        "PATCH",
        CM_PATH + "/a",
        [{"op": "test", "path": "/data/x", "value": "2"}],
        content_type="application/json-patch+json",
    )
    assert code == 422


async def test_strategic_merge_patch_merges_containers_by_name(raw: Raw) -> None:
    await raw.request("POST", DEPLOY_PATH, deployment("d"))
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "app", "image": "nginx:1.27"},
                        {"name": "sidecar", "image": "envoy"},
                    ]
                }
            }
        }
    }
    code, body = await raw.request("PATCH", DEPLOY_PATH + "/d", patch, content_type=SMP)
    assert code == 200
    containers = body["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [
        ("app", "nginx:1.27"),
        ("sidecar", "envoy"),
    ]
    assert containers[0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


def test_strategic_merge_patch_delete_directive_and_replace() -> None:
    obj = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "a", "env": [{"name": "X", "value": "1"}]},
                        {"name": "b"},
                    ],
                    "tolerations": [{"key": "k1"}],
                }
            }
        }
    }
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "b", "$patch": "delete"},
                        {"name": "a", "env": [{"name": "Y", "value": "2"}]},
                    ],
                    "tolerations": [{"key": "k2"}],
                }
            }
        }
    }
    out = strategic_merge_patch(obj, patch, BUILTIN_SCHEMA)
    spec = out["spec"]["template"]["spec"]
    assert spec["containers"] == [
        {"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}
    ]
    assert spec["tolerations"] == [{"key": "k2"}]


async def test_patch_missing_object_is_404(raw: Raw) -> None:
    code, _ = await raw.request(
        "PATCH", CM_PATH + "/nope", {"data": {}}, content_type="application/merge-patch+json"
    )
    assert code == 404


async def test_patch_records_update_manager(raw: Raw) -> None:
    await raw.request("POST", CM_PATH, configmap("a"), params={"fieldManager": "creator"})
    _, body = await raw.request(
        "PATCH",
        CM_PATH + "/a",
        {"data": {"b": "2"}},
        content_type="application/merge-patch+json",
        params={"fieldManager": "patcher"},
    )
    managers = {(m["manager"], m["operation"]): m for m in body["metadata"]["managedFields"]}
    assert managers[("creator", "Update")]["fieldsV1"] == {"f:data": {".": {}, "f:a": {}}}
    assert managers[("patcher", "Update")]["fieldsV1"] == {"f:data": {"f:b": {}}}
