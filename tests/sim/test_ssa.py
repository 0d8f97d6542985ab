"""Server-side apply: managedFields, conflicts, force, pruning, dry run."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.sim.conftest import CM_PATH, DEPLOY_PATH, Raw, configmap, deployment

pytestmark = pytest.mark.anyio

APPLY = "application/apply-patch+yaml"


async def apply(
    raw: Raw,
    path: str,
    obj: dict[str, Any],
    manager: str,
    *,
    force: bool = False,
    dry_run: bool = False,
) -> tuple[int, Any]:
    params = {"fieldManager": manager}
    if force:
        params["force"] = "true"
    if dry_run:
        params["dryRun"] = "All"
    return await raw.request(
        "PATCH", path, yaml.safe_dump(obj).encode(), content_type=APPLY, params=params
    )


def managers(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["manager"], m["operation"]): m for m in obj["metadata"]["managedFields"]}


async def test_apply_creates_with_apply_managed_fields(raw: Raw) -> None:
    code, body = await apply(raw, DEPLOY_PATH + "/web", deployment("web"), "ci")
    assert code == 201
    entry = managers(body)[("ci", "Apply")]
    assert entry["apiVersion"] == "apps/v1"
    assert entry["fieldsType"] == "FieldsV1"
    assert entry["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"app"}': {
                            ".": {},
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {
                                'k:{"containerPort":80,"protocol":"TCP"}': {
                                    ".": {},
                                    "f:containerPort": {},
                                }
                            },
                        }
                    }
                },
            },
        },
    }


async def test_managed_fields_list_the_dot_first_then_the_keys_sorted(raw: Raw) -> None:
    """As the API server writes fieldsV1: a member with children opens with `.`, and every
    node's keys follow in order (dict equality above does not see the order; the bytes do)."""
    obj = deployment("web")
    obj["metadata"]["labels"] = {"zone": "b", "app": "web", "tier": "a"}
    code, body = await apply(raw, DEPLOY_PATH + "/web", obj, "ci")
    assert code == 201
    fields = managers(body)[("ci", "Apply")]["fieldsV1"]
    assert list(fields) == ["f:metadata", "f:spec"]
    assert list(fields["f:metadata"]["f:labels"]) == ["f:app", "f:tier", "f:zone"]
    assert list(fields["f:spec"]) == ["f:replicas", "f:selector", "f:template"]
    container = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"app"}']
    assert list(container) == [".", "f:image", "f:name", "f:ports"]


async def test_apply_without_field_manager_is_422(raw: Raw) -> None:
    code, body = await raw.request(
        "PATCH", CM_PATH + "/a", yaml.safe_dump(configmap("a")).encode(), content_type=APPLY
    )
    assert code == 422
    assert "fieldManager" in body["message"]


async def test_reapply_same_config_changes_nothing(raw: Raw) -> None:
    _, first = await apply(raw, CM_PATH + "/a", configmap("a"), "ci")
    code, second = await apply(raw, CM_PATH + "/a", configmap("a"), "ci")
    assert code == 200
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


async def test_conflict_names_manager_and_field(raw: Raw) -> None:
    await apply(raw, DEPLOY_PATH + "/web", deployment("web", replicas=1), "alice")
    code, body = await apply(raw, DEPLOY_PATH + "/web", deployment("web", replicas=3), "bob")
    assert code == 409
    assert body["kind"] == "Status"
    assert body["reason"] == "Conflict"
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "alice": .spec.replicas'
    assert body["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "alice"',
            "field": ".spec.replicas",
        }
    ]


async def test_conflict_with_update_manager_says_using_version(raw: Raw) -> None:
    await raw.request("POST", DEPLOY_PATH, deployment("web"), params={"fieldManager": "kubectl"})
    code, body = await apply(raw, DEPLOY_PATH + "/web", deployment("web", image="x:2"), "bob")
    assert code == 409
    assert body["details"]["causes"][0]["message"] == 'conflict with "kubectl" using apps/v1'
    assert body["details"]["causes"][0]["field"] == (
        '.spec.template.spec.containers[name="app"].image'
    )


async def test_same_value_is_shared_without_conflict(raw: Raw) -> None:
    await apply(raw, DEPLOY_PATH + "/web", deployment("web"), "alice")
    code, body = await apply(raw, DEPLOY_PATH + "/web", deployment("web"), "bob")
    assert code == 200
    assert {("alice", "Apply"), ("bob", "Apply")} <= set(managers(body))


async def test_force_takes_ownership(raw: Raw) -> None:
    await apply(raw, DEPLOY_PATH + "/web", deployment("web", replicas=1), "alice")
    code, body = await apply(
        raw,
        DEPLOY_PATH + "/web",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"replicas": 5},
        },
        "bob",
        force=True,
    )
    assert code == 200
    assert body["spec"]["replicas"] == 5
    owned = managers(body)
    assert "f:replicas" not in owned[("alice", "Apply")]["fieldsV1"]["f:spec"]
    assert owned[("bob", "Apply")]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}


async def test_field_no_longer_applied_is_removed(raw: Raw) -> None:
    await apply(raw, CM_PATH + "/a", configmap("a", {"x": "1", "y": "2"}), "ci")
    code, body = await apply(raw, CM_PATH + "/a", configmap("a", {"x": "1"}), "ci")
    assert code == 200
    assert body["data"] == {"x": "1"}


async def test_field_owned_by_another_manager_is_kept(raw: Raw) -> None:
    await apply(raw, CM_PATH + "/a", configmap("a", {"x": "1", "y": "2"}), "alice")
    await apply(raw, CM_PATH + "/a", configmap("a", {"y": "2"}), "bob")
    code, body = await apply(raw, CM_PATH + "/a", configmap("a", {"x": "1"}), "alice")
    assert code == 200
    assert body["data"] == {"x": "1", "y": "2"}


async def test_associative_list_items_merge_by_key(raw: Raw) -> None:
    await apply(raw, DEPLOY_PATH + "/web", deployment("web"), "alice")
    sidecar = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "envoy"}]}}},
    }
    code, body = await apply(raw, DEPLOY_PATH + "/web", sidecar, "bob")
    assert code == 200
    names = [c["name"] for c in body["spec"]["template"]["spec"]["containers"]]
    assert names == ["app", "sidecar"]


async def test_dry_run_apply_stores_nothing(raw: Raw) -> None:
    code, body = await apply(raw, CM_PATH + "/a", configmap("a"), "ci", dry_run=True)
    assert code == 201
    assert body["data"] == {"a": "1"}
    code, _ = await raw.request("GET", CM_PATH + "/a")
    assert code == 404


async def test_dry_run_update_stores_nothing(raw: Raw) -> None:
    _, created = await raw.request("POST", CM_PATH, configmap("a"))
    changed = dict(created, data={"a": "2"})
    code, body = await raw.request("PUT", CM_PATH + "/a", changed, params={"dryRun": "All"})
    assert code == 200
    assert body["data"] == {"a": "2"}
    _, stored = await raw.request("GET", CM_PATH + "/a")
    assert stored["data"] == {"a": "1"}


async def test_update_after_apply_moves_ownership(raw: Raw) -> None:
    await apply(raw, CM_PATH + "/a", configmap("a", {"x": "1"}), "ci")
    _, body = await raw.request(
        "PATCH",
        CM_PATH + "/a",
        {"data": {"x": "2"}},
        content_type="application/merge-patch+json",
        params={"fieldManager": "editor"},
    )
    owned = managers(body)
    assert ("ci", "Apply") not in owned  # its only field was taken over
    assert owned[("editor", "Update")]["fieldsV1"] == {"f:data": {"f:x": {}}}


async def test_apply_to_status_subresource(raw: Raw) -> None:
    await apply(raw, DEPLOY_PATH + "/web", deployment("web"), "ci")
    status = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "status": {"replicas": 1},
    }
    code, body = await apply(raw, DEPLOY_PATH + "/web/status", status, "controller")
    assert code == 200
    assert body["status"]["replicas"] == 1
    entry = next(m for m in body["metadata"]["managedFields"] if m["manager"] == "controller")
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {"f:replicas": {}}}
