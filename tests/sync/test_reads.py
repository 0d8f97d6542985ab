"""What the sync engine reads from a cluster: a listing that holds every object of the
Application stands in for a GET per object, and the shared watch cache stands in for both the
per-Application LIST and the health gate's polling (fleet.sim and a real kube-apiserver)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import anyio
import pytest
from kubernetes_asyncio import client

from fleet.kube import Credentials, Forbidden, build_api_client, request_json
from fleet.sim import SimServer
from fleet.sync.apply import ApplyOptions, create_if_absent
from fleet.sync.discovery import Discovery
from fleet.sync.engine import SyncEngine
from fleet.sync.tracking import LABEL
from fleet.sync.watchhub import WatchHub
from tests.sync.conftest import count_requests
from tests.sync.helpers import configmap, deployment, engine, get_cm

pytestmark = pytest.mark.anyio


async def make_namespace(api: client.ApiClient, name: str) -> None:
    await request_json(api, "POST", "/api/v1/namespaces", body={"metadata": {"name": name}})


def item_gets(seen: list[tuple[str, str]], plural: str) -> list[str]:
    """GETs of single objects of `plural` (not LISTs, not watches)."""
    out = []
    for method, url in seen:
        parts = urlsplit(url)
        segments = [s for s in parts.path.split("/") if s]
        if method == "GET" and len(segments) >= 2 and segments[-2] == plural:
            out.append(url)
    return out


def app_lists(seen: list[tuple[str, str]], eng: SyncEngine) -> list[str]:
    """LISTs selecting this Application's label value (what a compare without cache sends)."""
    selector = f"{LABEL}={eng.spec.app.label_value}"
    return [url for method, url in seen if method == "GET" and selector in unquote(url)]


@pytest.fixture
async def watches() -> AsyncIterator[WatchHub]:
    hub = WatchHub()
    async with anyio.create_task_group() as tg:
        await tg.start(hub.run)
        yield hub
        tg.cancel_scope.cancel()


def wire(eng: SyncEngine, hub: WatchHub) -> SyncEngine:
    """Connect the engine to the shared watches as the Application controller does."""
    label = eng.spec.app.label_value
    eng.live_cache = lambda res: hub.snapshot(eng.api, res, label)
    eng.open_cache = lambda resources: hub.prime(eng.api, resources)
    return eng


async def test_a_first_sync_sends_no_get_for_objects_the_listing_does_not_hold(
    api: client.ApiClient, namespace: str
) -> None:
    eng = engine(api, namespace)
    seen = count_requests(api)
    op = await eng.sync([configmap("a"), configmap("b"), configmap("c")], "rev1")
    assert op.phase == "Succeeded", op.message
    assert item_gets(seen.seen, "configmaps") == []
    assert sorted(r["name"] for r in op.to_dict()["syncResult"]["resources"]) == ["a", "b", "c"]


async def test_an_unlabelled_object_of_the_same_name_is_taken_over_without_a_get(
    api: client.ApiClient, namespace: str
) -> None:
    await make_namespace(api, namespace)
    await request_json(
        api,
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        body={"metadata": {"name": "shared"}, "data": {"key": "theirs"}},
    )
    eng = engine(api, namespace)
    seen = count_requests(api)
    op = await eng.sync([configmap("shared", {"key": "ours"})], "rev1")
    assert op.phase == "Succeeded", op.message
    assert item_gets(seen.seen, "configmaps") == []
    live = await get_cm(api, namespace, "shared")
    assert live is not None
    assert live["data"] == {"key": "ours"}
    assert live["metadata"]["labels"][LABEL] == eng.spec.app.label_value


async def test_replace_still_reads_an_object_the_listing_does_not_hold(
    api: client.ApiClient, namespace: str
) -> None:
    await make_namespace(api, namespace)
    await request_json(
        api,
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        body={"metadata": {"name": "shared"}, "data": {"key": "theirs"}},
    )
    eng = engine(api, namespace, sync_options=("CreateNamespace=true", "Replace=true"))
    op = await eng.sync([configmap("shared", {"key": "replaced"})], "rev1")
    assert op.phase == "Succeeded", op.message  # a POST without the GET would be a 409
    live = await get_cm(api, namespace, "shared")
    assert live is not None and live["data"] == {"key": "replaced"}


async def test_a_first_sync_with_the_shared_watch_sends_no_per_application_list(
    api: client.ApiClient, namespace: str, watches: WatchHub
) -> None:
    eng = wire(engine(api, namespace), watches)
    seen = count_requests(api)
    op = await eng.sync([configmap("a"), configmap("b")], "rev1")
    assert op.phase == "Succeeded", op.message
    assert app_lists(seen.seen, eng) == []
    assert item_gets(seen.seen, "configmaps") == []


async def test_the_health_gate_reads_a_rollout_from_the_shared_watch_not_by_polling(
    api: client.ApiClient, namespace: str, watches: WatchHub
) -> None:
    eng = wire(engine(api, namespace), watches)
    seen = count_requests(api)
    op = await eng.sync([deployment("web")], "rev1")  # waits until the rollout is Healthy
    assert op.phase == "Succeeded", op.message
    assert eng.status.health == "Healthy"
    assert item_gets(seen.seen, "deployments") == []


async def test_a_sync_of_objects_that_exist_does_not_read_their_namespace(
    api: client.ApiClient, namespace: str
) -> None:
    eng = engine(api, namespace)  # CreateNamespace=true
    await eng.sync([configmap("a"), configmap("b")], "rev1")
    seen = count_requests(api)
    op = await eng.sync([configmap("a"), configmap("b", {"key": "changed"})], "rev2")
    assert op.phase == "Succeeded", op.message
    assert item_gets(seen.seen, "namespaces") == []


def namespace_requests(seen: list[tuple[str, str]]) -> list[str]:
    """Methods of requests to the Namespace collection or one Namespace."""
    out = []
    for method, url in seen:
        segments = [s for s in urlsplit(url).path.split("/") if s]
        if segments[-1:] == ["namespaces"] or segments[-2:-1] == ["namespaces"]:
            out.append(method)
    return out


async def test_a_first_sync_creates_its_namespace_with_one_request(
    api: client.ApiClient, namespace: str
) -> None:
    eng = engine(api, namespace)  # CreateNamespace=true
    seen = count_requests(api)
    op = await eng.sync([configmap("a")], "rev1")
    assert op.phase == "Succeeded", op.message
    assert namespace_requests(seen.seen) == ["POST"]


async def test_a_first_sync_into_a_namespace_that_exists_costs_one_request_too(
    api: client.ApiClient, namespace: str
) -> None:
    await make_namespace(api, namespace)
    eng = engine(api, namespace)
    seen = count_requests(api)
    op = await eng.sync([configmap("a")], "rev1")  # the create is refused: AlreadyExists
    assert op.phase == "Succeeded", op.message
    assert namespace_requests(seen.seen) == ["POST"]


async def test_credentials_that_may_not_create_namespaces_still_sync_into_one_that_exists(
    tmp_path: Path,
) -> None:
    """The create is refused (403); a GET finds the namespace, so nothing is wrong. One that
    does not exist is the refusal it was."""
    async with SimServer(names=["c1"], kubeconfig_dir=tmp_path) as sim:
        member = sim.clusters["c1"]
        ca = base64.b64decode(member.ca_data)
        admin = Credentials(server=member.server, token=member.token, ca_pem=ca)
        reader = Credentials(server=member.server, token=member.readonly_token, ca_pem=ca)
        async with build_api_client(admin) as api, build_api_client(reader) as readonly:
            await make_namespace(api, "exists")
            res = await Discovery(readonly).resolve("v1", "Namespace")
            opts = ApplyOptions()
            exists = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "exists"}}
            assert await create_if_absent(readonly, res, exists, opts) is False
            absent = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "absent"}}
            with pytest.raises(Forbidden):
                await create_if_absent(readonly, res, absent, opts)
