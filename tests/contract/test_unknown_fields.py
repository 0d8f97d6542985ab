"""Unknown fields of built-in kinds: dropped with a warning, refused under Strict, fatal to
server-side apply. A GitOps controller's typo in a manifest meets these answers."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.contract.objects import config_map

pytestmark = pytest.mark.anyio


def _deployment(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
            },
        },
    }


async def _send(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    body: dict[str, Any],
    content_type: str = "application/json",
    **params: str,
) -> tuple[int, list[str], dict[str, Any]]:
    async with http.request(
        method,
        path,
        data=json.dumps(body),
        headers={"Content-Type": content_type},
        params=params,
    ) as response:
        return response.status, response.headers.getall("Warning", []), await response.json()


async def test_an_unknown_field_is_dropped_with_a_warning_by_default(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    body = {**config_map("typo", {"k": "v"}), "dta": {"k": "v"}}
    status, warnings, created = await _send(
        http, "POST", f"api/v1/namespaces/{namespace}/configmaps", body
    )
    assert status == 201
    assert warnings == ['299 - "unknown field \\"dta\\""']
    assert "dta" not in created


async def test_an_unknown_field_is_dropped_silently_under_ignore(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    body = {**config_map("quiet", {"k": "v"}), "dta": {"k": "v"}}
    status, warnings, created = await _send(
        http,
        "POST",
        f"api/v1/namespaces/{namespace}/configmaps",
        body,
        fieldValidation="Ignore",
    )
    assert (status, warnings) == (201, [])
    assert "dta" not in created


async def test_an_unknown_field_is_refused_under_strict(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    body = _deployment("strict")
    body["spec"]["template"]["spec"]["containers"][0]["imagePolicy"] = "Always"
    status, _, reply = await _send(
        http,
        "POST",
        f"apis/apps/v1/namespaces/{namespace}/deployments",
        body,
        fieldValidation="Strict",
    )
    assert status == 400
    assert reply["reason"] == "BadRequest"
    assert reply["message"] == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.template.spec.containers[0].imagePolicy"'
    )


async def test_server_side_apply_of_an_unknown_field_is_an_error(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    body = _deployment("applied")
    body["spec"]["replica"] = 2
    status, _, reply = await _send(
        http,
        "PATCH",
        f"apis/apps/v1/namespaces/{namespace}/deployments/applied",
        body,
        "application/apply-patch+yaml",
        fieldManager="fleet",
    )
    assert status == 500
    assert reply["message"] == (
        # the namespace shown is the body's (none here), not the URL's
        "failed to create typed patch object (/applied; apps/v1, Kind=Deployment): "
        ".spec.replica: field not declared in schema"
    )


async def test_server_side_apply_of_an_unknown_metadata_field_is_an_error(
    http: aiohttp.ClientSession, namespace: str
) -> None:
    body = config_map("meta", {"k": "v"})
    body["metadata"]["label"] = {"app": "x"}
    body["metadata"]["namespace"] = namespace
    status, _, reply = await _send(
        http,
        "PATCH",
        f"api/v1/namespaces/{namespace}/configmaps/meta",
        body,
        "application/apply-patch+yaml",
        fieldManager="fleet",
    )
    assert status == 500
    assert reply["message"] == (
        f"failed to create typed patch object ({namespace}/meta; /v1, Kind=ConfigMap): "
        ".metadata.label: field not declared in schema"
    )
