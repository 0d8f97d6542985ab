"""Which API resource a member request was for (fleet.kube.observe.resource_of): what
`fleet_cluster_requests_by_resource_total` and fleet_bench report, to tell reads apart."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest
from kubernetes_asyncio import client

from fleet.kube import Credentials, KubeError, build_api_client, observe, request_json
from fleet.kube.observe import resource_of
from fleet.kube.watch import list_and_watch
from fleet.sim import SimServer


@pytest.mark.parametrize(
    ("method", "path", "watch", "expected"),
    [
        ("GET", "/api/v1/namespaces/ns/configmaps/a", False, ("GET", "configmaps")),
        ("GET", "/api/v1/namespaces/ns/configmaps", False, ("LIST", "configmaps")),
        ("GET", "/apis/apps/v1/deployments", True, ("WATCH", "apps/deployments")),
        ("PATCH", "/apis/apps/v1/namespaces/n/deployments/w", False, ("PATCH", "apps/deployments")),
        ("GET", "/apis/apps/v1/namespaces/n/deployments/w/status", False,
         ("GET", "apps/deployments/status")),
        ("GET", "/api/v1/namespaces/app-0", False, ("GET", "namespaces")),
        ("PUT", "/api/v1/namespaces/app-0/finalize", False, ("PUT", "namespaces/finalize")),
        ("GET", "/api/v1/namespaces", False, ("LIST", "namespaces")),
        ("GET", "/api/v1", False, ("GET", "discovery")),
        ("GET", "/apis/apps/v1", False, ("GET", "discovery")),
        ("GET", "/apis", False, ("GET", "discovery")),
        ("GET", "/version", False, ("GET", "version")),
        ("GET", "/openapi/v2", False, ("GET", "other")),
    ],
)  # fmt: skip
def test_a_request_is_named_by_verb_and_resource(
    method: str, path: str, watch: bool, expected: tuple[str, str]
) -> None:
    assert resource_of(method, path, watch) == expected


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def c1(tmp_path: Path) -> AsyncIterator[Credentials]:
    """Credentials of the one cluster, c1, of a fleet.sim."""
    async with SimServer(names=["c1"], kubeconfig_dir=tmp_path) as sim:
        c = sim.clusters["c1"]
        yield Credentials(server=c.server, token=c.token, ca_pem=base64.b64decode(c.ca_data))


Seen = list[tuple[str, str, str]]


@contextmanager
def observed() -> Iterator[tuple[Seen, Seen]]:
    """What labelled clients report while open: requests as (cluster, verb, outcome) and
    resources as (cluster, verb, resource)."""
    requests: Seen = []
    resources: Seen = []

    def record(cluster: str, verb: str, _seconds: float, outcome: str) -> None:
        requests.append((cluster, verb, outcome))

    def record_resource(cluster: str, verb: str, resource: str) -> None:
        resources.append((cluster, verb, resource))

    observe.add_observer(record)
    observe.add_resource_observer(record_resource)
    try:
        yield requests, resources
    finally:
        observe.remove_observer(record)
        observe.remove_resource_observer(record_resource)


@pytest.mark.anyio
async def test_a_labelled_client_reports_each_request_and_each_new_connection(
    c1: Credentials,
) -> None:
    with observed() as (_, seen):
        async with build_api_client(c1, label="c1") as api:
            for _ in range(3):  # one after the other: one kept-alive connection
                await request_json(api, "GET", "/api/v1/namespaces/default/configmaps")
    assert seen.count(("c1", "LIST", "configmaps")) == 3
    assert seen.count(("c1", "CONNECT", "connections")) == 1


@pytest.mark.anyio
async def test_watches_typed_calls_and_failures_are_reported_with_their_outcome(
    c1: Credentials,
) -> None:
    async def ignore(*_: object) -> None:
        pass

    with observed() as (requests, resources):
        async with build_api_client(c1, label="c1") as api:
            await client.CoreV1Api(api).list_namespaced_config_map("default")
            with pytest.raises(KubeError):
                await request_json(api, "GET", "/api/v1/namespaces/default/configmaps/none")
            async with anyio.create_task_group() as tg:
                tg.start_soon(
                    lambda: list_and_watch(
                        api, "/api/v1/configmaps", on_reset=ignore, on_event=ignore
                    )
                )
                with anyio.fail_after(10):
                    while ("c1", "WATCH", "200") not in requests:
                        await anyio.sleep(0.01)
                tg.cancel_scope.cancel()
        down = Credentials(server="https://127.0.0.1:1", token="t", ca_pem=c1.ca_pem)
        async with build_api_client(down, label="down") as api:
            with pytest.raises(KubeError):
                await request_json(api, "GET", "/version", timeout=5)
    assert ("c1", "GET", "200") in requests  # the typed call
    assert ("c1", "GET", "404") in requests
    assert ("c1", "LIST", "configmaps") in resources
    assert ("c1", "GET", "configmaps") in resources
    assert ("c1", "WATCH", "configmaps") in resources
    assert ("down", "GET", "ClientConnectorError") in requests
    assert ("down", "CONNECT", "connections") not in resources


@pytest.mark.anyio
async def test_a_body_with_non_ascii_text_and_a_query_reaches_the_server_as_sent(
    c1: Credentials,
) -> None:
    data = {"greeting": "grüß dich ✓", "quote": 'say "hi" & <go>'}
    async with build_api_client(c1, label="c1") as api:
        created = await request_json(
            api,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            body={"metadata": {"name": "hello", "labels": {"a": "b"}}, "data": data},
            query={"fieldManager": "fleet test"},
        )
        found = await request_json(
            api,
            "GET",
            "/api/v1/namespaces/default/configmaps",
            query={"labelSelector": "a=b"},
        )
    assert created["data"] == data
    assert created["metadata"]["managedFields"][0]["manager"] == "fleet test"
    assert [item["data"] for item in found["items"]] == [data]
