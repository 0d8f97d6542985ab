"""list with label selectors, field selectors and limit/continue pagination."""

from __future__ import annotations

import pytest

from fleet.sim.selectors import parse_label_selector
from tests.sim.conftest import CM_PATH, Raw, configmap

pytestmark = pytest.mark.anyio


async def _seed(raw: Raw) -> None:
    labels = {
        "a": {"app": "web", "tier": "front"},
        "b": {"app": "web", "tier": "back"},
        "c": {"app": "db"},
        "d": {},
    }
    for name, lab in labels.items():
        await raw.request("POST", CM_PATH, configmap(name, labels=lab))


async def _names(raw: Raw, **params: str) -> list[str]:
    code, body = await raw.request("GET", CM_PATH, params=params)
    assert code == 200, body
    return [i["metadata"]["name"] for i in body["items"]]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", ["a", "b"]),
        ("app==web", ["a", "b"]),
        ("app!=web", ["c", "d"]),
        ("tier in (front,back)", ["a", "b"]),
        ("app notin (web)", ["c", "d"]),
        ("tier", ["a", "b"]),
        ("!tier", ["c", "d"]),
        ("app=web,tier!=back", ["a"]),
    ],
)
async def test_label_selector(raw: Raw, selector: str, expected: list[str]) -> None:
    await _seed(raw)
    assert await _names(raw, labelSelector=selector) == expected


async def test_field_selector_by_name(raw: Raw) -> None:
    await _seed(raw)
    assert await _names(raw, fieldSelector="metadata.name=c") == ["c"]
    assert await _names(raw, fieldSelector="metadata.name!=c") == ["a", "b", "d"]


async def test_field_selector_by_namespace_across_namespaces(raw: Raw) -> None:
    await _seed(raw)
    code, body = await raw.request(
        "GET", "/api/v1/namespaces", params={"fieldSelector": "metadata.name=default"}
    )
    assert [i["metadata"]["name"] for i in body["items"]] == ["default"]
    code, body = await raw.request(
        "GET", "/api/v1/configmaps", params={"fieldSelector": "metadata.namespace=default"}
    )
    assert code == 200
    assert len(body["items"]) == 4


async def test_unknown_field_selector_is_400(raw: Raw) -> None:
    code, body = await raw.request("GET", CM_PATH, params={"fieldSelector": "spec.x=1"})
    assert code == 400
    assert body["reason"] == "BadRequest"


async def test_limit_and_continue_page_through_everything(raw: Raw) -> None:
    await _seed(raw)
    _, page = await raw.request("GET", CM_PATH, params={"limit": "3"})
    assert [i["metadata"]["name"] for i in page["items"]] == ["a", "b", "c"]
    assert page["metadata"]["remainingItemCount"] == 1
    token = page["metadata"]["continue"]
    _, rest = await raw.request("GET", CM_PATH, params={"limit": "3", "continue": token})
    assert [i["metadata"]["name"] for i in rest["items"]] == ["d"]
    assert "continue" not in rest["metadata"]


async def test_builtin_list_items_have_no_kind(raw: Raw) -> None:
    await _seed(raw)
    _, body = await raw.request("GET", CM_PATH)
    assert body["kind"] == "ConfigMapList"
    assert body["apiVersion"] == "v1"
    assert "kind" not in body["items"][0]
    assert body["metadata"]["resourceVersion"].isdigit()


def test_label_selector_parser_rejects_garbage() -> None:
    from fleet.sim.errors import ApiError

    with pytest.raises(ApiError) as info:
        parse_label_selector("app in web")
    assert info.value.code == 400
