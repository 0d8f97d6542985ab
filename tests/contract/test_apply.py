"""Server-side apply: how fleet writes. Ownership, conflicts, force, removal, dry run."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.contract.objects import config_map

pytestmark = pytest.mark.anyio

APPLY = {"Content-Type": "application/apply-patch+yaml"}


async def _apply(
    http: aiohttp.ClientSession,
    namespace: str,
    body: dict[str, Any],
    manager: str = "fleet",
    **params: str,
) -> tuple[int, dict[str, Any]]:
    path = f"api/v1/namespaces/{namespace}/configmaps/{body['metadata']['name']}"
    async with http.patch(
        path, json=body, headers=APPLY, params={"fieldManager": manager, **params}
    ) as response:
        return response.status, await response.json()


async def test_apply_creates_and_records_the_manager(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    status, applied = await _apply(http, namespace, config_map("a", {"k": "1"}))
    assert status == 201
    entries = [(m["manager"], m["operation"]) for m in applied["metadata"]["managedFields"]]
    assert ("fleet", "Apply") in entries
    fleet_entry = next(m for m in applied["metadata"]["managedFields"] if m["manager"] == "fleet")
    assert fleet_entry["fieldsType"] == "FieldsV1"
    assert "f:k" in fleet_entry["fieldsV1"]["f:data"]


async def test_applying_the_same_config_again_changes_nothing(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    _, first = await _apply(http, namespace, config_map("a", {"k": "1"}))
    status, second = await _apply(http, namespace, config_map("a", {"k": "1"}))
    assert status == 200
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


async def test_a_field_another_manager_changed_is_a_conflict_until_forced(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    await _apply(http, namespace, config_map("a", {"k": "1"}))
    async with http.patch(
        f"api/v1/namespaces/{namespace}/configmaps/a",
        json={"data": {"k": "edited"}},
        headers={"Content-Type": "application/merge-patch+json"},
        params={"fieldManager": "kubectl-edit"},
    ) as response:
        assert response.status == 200
    status, conflict = await _apply(http, namespace, config_map("a", {"k": "1"}))
    assert status == 409
    assert conflict["reason"] == "Conflict"
    assert "kubectl-edit" in conflict["message"]
    status, forced = await _apply(http, namespace, config_map("a", {"k": "1"}), force="true")
    assert status == 200
    assert forced["data"] == {"k": "1"}


async def test_a_field_no_longer_applied_is_removed(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    await _apply(http, namespace, config_map("a", {"keep": "1", "drop": "2"}))
    _, applied = await _apply(http, namespace, config_map("a", {"keep": "1"}))
    assert applied["data"] == {"keep": "1"}


async def test_a_field_another_manager_also_applies_is_kept(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    await _apply(http, namespace, config_map("a", {"shared": "1", "mine": "2"}))
    await _apply(http, namespace, config_map("a", {"shared": "1"}), manager="other")
    _, applied = await _apply(http, namespace, config_map("a", {"mine": "2"}))
    assert applied["data"] == {"shared": "1", "mine": "2"}


async def test_a_dry_run_apply_stores_nothing(http: aiohttp.ClientSession, namespace: str) -> None:
    status, preview = await _apply(http, namespace, config_map("a", {"k": "1"}), dryRun="All")
    assert status == 201
    assert preview["data"] == {"k": "1"}
    async with http.get(f"api/v1/namespaces/{namespace}/configmaps/a") as response:
        assert response.status == 404


async def test_apply_without_a_field_manager_is_refused(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    async with http.patch(
        f"api/v1/namespaces/{namespace}/configmaps/a", json=config_map("a"), headers=APPLY
    ) as response:
        assert response.status in (400, 422)
