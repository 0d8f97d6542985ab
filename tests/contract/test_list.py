"""Listing: label and field selectors and paging, which fleet uses to find what it manages."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from tests.contract.conftest import TIMEOUT
from tests.contract.objects import config_map

pytestmark = pytest.mark.anyio


@pytest.fixture
async def labelled(api: client.ApiClient, namespace: str) -> client.CoreV1Api:
    core = client.CoreV1Api(api)
    for name, labels in {
        "prod-a": {"env": "prod", "team": "a"},
        "prod-b": {"env": "prod", "team": "b"},
        "dev-a": {"env": "dev", "team": "a"},
        "bare": {},
    }.items():
        await core.create_namespaced_config_map(
            namespace, config_map(name, **labels), _request_timeout=TIMEOUT
        )
    return core


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("env=prod", {"prod-a", "prod-b"}),
        ("env==prod", {"prod-a", "prod-b"}),
        ("env!=prod", {"dev-a", "bare"}),
        ("env in (dev,staging)", {"dev-a"}),
        ("env notin (prod)", {"dev-a", "bare"}),
        ("team", {"prod-a", "prod-b", "dev-a"}),
        ("!team", {"bare"}),
        ("env=prod,team=b", {"prod-b"}),
    ],
)
async def test_label_selector_operators(
    labelled: client.CoreV1Api, namespace: str, selector: str, expected: set[str]
) -> None:
    listed = await labelled.list_namespaced_config_map(
        namespace, label_selector=selector, _request_timeout=TIMEOUT
    )
    names = {item.metadata.name for item in listed.items} - {"kube-root-ca.crt"}
    assert names == expected


async def test_field_selector_on_name(labelled: client.CoreV1Api, namespace: str) -> None:
    listed = await labelled.list_namespaced_config_map(
        namespace, field_selector="metadata.name=dev-a", _request_timeout=TIMEOUT
    )
    assert [item.metadata.name for item in listed.items] == ["dev-a"]


async def test_limit_and_continue_page_through_everything_once(
    labelled: client.CoreV1Api, namespace: str
) -> None:
    seen: list[str] = []
    token = None
    for _ in range(10):
        page = await labelled.list_namespaced_config_map(
            namespace, limit=2, _continue=token, _request_timeout=TIMEOUT
        )
        assert len(page.items) <= 2
        seen.extend(item.metadata.name for item in page.items)
        token = page.metadata._continue
        if not token:
            break
    assert len(seen) == len(set(seen))
    assert {"prod-a", "prod-b", "dev-a", "bare"} <= set(seen)


async def test_events_select_on_their_involved_object(
    api: client.ApiClient, namespace: str
) -> None:
    """`kubectl describe` finds an object's Events with involvedObject field selectors."""
    core = client.CoreV1Api(api)
    for name, about in (("e1", "web"), ("e2", "api")):
        await core.create_namespaced_event(
            namespace,
            {
                "metadata": {"name": name},
                "involvedObject": {"kind": "ConfigMap", "name": about, "namespace": namespace},
                "reason": "Tested",
                "message": f"about {about}",
                "type": "Normal",
            },
            _request_timeout=TIMEOUT,
        )
    listed = await core.list_namespaced_event(
        namespace,
        field_selector=f"involvedObject.name=web,involvedObject.namespace={namespace},type=Normal",
        _request_timeout=TIMEOUT,
    )
    assert [item.metadata.name for item in listed.items] == ["e1"]
    with pytest.raises(client.ApiException) as refused:
        await core.list_namespaced_config_map(
            namespace, field_selector="involvedObject.name=web", _request_timeout=TIMEOUT
        )
    assert refused.value.status == 400
