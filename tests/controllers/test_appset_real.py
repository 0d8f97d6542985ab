"""The controller against a real kube-apiserver: the CRD schema accepts what it writes, and the
ownerReference lets kube-controller-manager's garbage collector remove the Applications."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient

from fleet.api.crds import install_crds
from fleet.api.resources import APPLICATION_SET
from fleet.kube import Credentials, build_api_client, request_json
from tests.clusters.harness import Env
from tests.controllers.appset_support import (
    app_names_become,
    applications,
    condition,
    create_appset,
    eventually,
    get_appset,
    list_appset,
    running,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def real_hub(shared_real: Env) -> Credentials:
    hub = shared_real.hub
    return Credentials(server=hub.server, token=hub.token, ca_pem=hub.ca_pem)


@pytest.fixture
async def hub(real_hub: Credentials) -> AsyncIterator[tuple[ApiClient, str]]:
    api = build_api_client(real_hub)
    async with api:
        await install_crds(api)
        namespace = f"fleet-{uuid.uuid4().hex[:8]}"
        await request_json(
            api, "POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}}
        )
        yield api, namespace


async def test_real_apiserver_accepts_the_applications_and_status_and_gc_removes_them(
    hub: tuple[ApiClient, str], tmp_path: Path
) -> None:
    api, ns = hub
    async with running(api, ns, tmp_path / "cache") as run:
        # With Argo CD's resources finalizer on (the default) the schema must accept it too.
        await create_appset(
            api, list_appset("gb", [{"name": "east"}, {"name": "west"}], namespace=ns)
        )
        apps = await app_names_become(run, "gb", {"east-guestbook", "west-guestbook"})
        assert apps["east-guestbook"]["metadata"]["finalizers"]

        async def status_written() -> bool:
            status = (await get_appset(api, ns, "gb")).get("status") or {}
            return len(status.get("resources") or []) == 2

        await eventually(status_written, what="ApplicationSet status accepted by the CRD schema")
        assert condition(await get_appset(api, ns, "gb"), "ResourcesUpToDate")["status"] == "True"

        await request_json(api, "DELETE", APPLICATION_SET.item(ns, "gb"))

        async def collected() -> bool:
            # Finalizers are the Application controller's (not running here): GC marks them.
            listing = await request_json(
                api, "GET", f"/apis/fleet.gitops.dev/v1alpha1/namespaces/{ns}/applications"
            )
            items = listing.get("items") or []
            return all(item["metadata"].get("deletionTimestamp") for item in items)

        await eventually(collected, timeout=120, what="garbage collection of the Applications")
        assert await applications(api, ns, "gb") == {}
