"""ownerReferences garbage collection with the three propagation policies."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.sim.conftest import CM_PATH, DEPLOY_PATH, Raw, configmap, deployment

pytestmark = pytest.mark.anyio


async def _owner_and_child(raw: Raw) -> tuple[dict[str, Any], str]:
    _, owner = await raw.request("POST", DEPLOY_PATH, deployment("owner"))
    ref = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
        "blockOwnerDeletion": True,
    }
    code, _ = await raw.request("POST", CM_PATH, configmap("child", ownerReferences=[ref]))
    assert code == 201
    return owner, CM_PATH + "/child"


async def _gone(raw: Raw, path: str) -> bool:
    for _ in range(50):
        code, _ = await raw.request("GET", path)
        if code == 404:
            return True
        await asyncio.sleep(0.02)
    return False


async def test_background_deletion_collects_dependents(raw: Raw) -> None:
    _, child = await _owner_and_child(raw)
    code, _ = await raw.request(
        "DELETE", DEPLOY_PATH + "/owner", params={"propagationPolicy": "Background"}
    )
    assert code == 200
    assert await _gone(raw, child)


async def test_foreground_deletion_waits_for_dependents(raw: Raw) -> None:
    _, child = await _owner_and_child(raw)
    await raw.request(
        "PATCH",
        child,
        {"metadata": {"finalizers": ["example.com/hold"]}},
        content_type="application/merge-patch+json",
    )
    code, body = await raw.request(
        "DELETE", DEPLOY_PATH + "/owner", {"propagationPolicy": "Foreground"}
    )
    assert code == 200
    assert "foregroundDeletion" in body["metadata"]["finalizers"]
    await asyncio.sleep(0.05)
    code, _ = await raw.request("GET", DEPLOY_PATH + "/owner")
    assert code == 200  # the held dependent blocks the owner
    code, held = await raw.request("GET", child)
    assert held["metadata"]["deletionTimestamp"]
    await raw.request(
        "PATCH",
        child,
        {"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
    assert await _gone(raw, child)
    assert await _gone(raw, DEPLOY_PATH + "/owner")


async def test_orphan_deletion_keeps_dependents_without_owner_reference(raw: Raw) -> None:
    _, child = await _owner_and_child(raw)
    code, _ = await raw.request(
        "DELETE", DEPLOY_PATH + "/owner", params={"propagationPolicy": "Orphan"}
    )
    assert code == 200
    assert await _gone(raw, DEPLOY_PATH + "/owner")
    code, body = await raw.request("GET", child)
    assert code == 200
    assert "ownerReferences" not in body["metadata"]


async def test_dependent_with_another_live_owner_survives(raw: Raw) -> None:
    _, owner = await raw.request("POST", DEPLOY_PATH, deployment("owner"))
    _, other = await raw.request("POST", DEPLOY_PATH, deployment("other"))
    refs = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": d["metadata"]["name"],
            "uid": d["metadata"]["uid"],
        }
        for d in (owner, other)
    ]
    await raw.request("POST", CM_PATH, configmap("child", ownerReferences=refs))
    await raw.request("DELETE", DEPLOY_PATH + "/owner")
    await asyncio.sleep(0.05)
    code, body = await raw.request("GET", CM_PATH + "/child")
    assert code == 200
    assert [r["name"] for r in body["metadata"]["ownerReferences"]] == ["other"]
