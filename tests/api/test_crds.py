"""fleet's CRDs: they install on fleet.sim and a real kube-apiserver, valid objects round-trip,
the real server enforces the schema and shows the printer columns `kubectl get` prints."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from fleet.api.crds import CRDS_DIR_ENV, CrdError, crd_documents, install_crds
from fleet.api.resources import APPLICATION, APPLICATION_SET, PROJECT, Kind
from fleet.kube import Invalid, request_json
from tests.api import samples
from tests.api.conftest import Hub, create_namespace

KINDS: list[tuple[Kind, Callable[..., dict[str, Any]]]] = [
    (APPLICATION, samples.application),
    (APPLICATION_SET, samples.application_set),
    (PROJECT, samples.project),
]
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def test_every_kind_has_a_crd_in_the_fleet_category() -> None:
    docs = {doc["spec"]["names"]["kind"]: doc for doc in crd_documents()}
    assert {"Application", "ApplicationSet", "Project", "Cluster"} <= set(docs)
    for doc in docs.values():
        assert doc["spec"]["group"] == "fleet.gitops.dev"
        assert doc["spec"]["names"]["categories"] == ["fleet"]


def test_short_names_leave_argo_cds_to_argo_cd() -> None:
    short = {d["spec"]["names"]["kind"]: d["spec"]["names"]["shortNames"] for d in crd_documents()}
    assert short["Application"] == ["fapp", "fapps"]
    assert short["ApplicationSet"] == ["fappset", "fappsets"]
    assert short["Project"] == ["fproj"]


def test_crd_documents_selects_by_stem_plural_or_kind() -> None:
    chosen = crd_documents(["application", "applicationsets", "Project"])
    assert [d["metadata"]["name"] for d in chosen] == [
        "applications.fleet.gitops.dev",
        "applicationsets.fleet.gitops.dev",
        "projects.fleet.gitops.dev",
    ]


def test_crd_documents_rejects_an_unknown_name() -> None:
    with pytest.raises(CrdError, match="no CRD named 'apps'"):
        crd_documents(["apps"])


def test_missing_crd_folder_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CRDS_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(CrdError, match=f"CRD folder not found.*{CRDS_DIR_ENV}"):
        crd_documents()


@pytest.mark.anyio
async def test_install_crds_serves_every_kind_and_is_idempotent(hub: Hub) -> None:
    async with hub.client() as api:
        await install_crds(api)
        await install_crds(api)
        for kind, _ in [*KINDS]:
            listed = await request_json(api, "GET", kind.collection("default"))
            assert listed["kind"] == f"{kind.kind}List"


@pytest.mark.anyio
@pytest.mark.parametrize("kind, sample", KINDS, ids=[k.kind for k, _ in KINDS])
async def test_valid_sample_round_trips(
    hub: Hub, kind: Kind, sample: Callable[..., dict[str, Any]]
) -> None:
    async with hub.client() as api:
        await install_crds(api)
        namespace = await create_namespace(api)
        body = sample(namespace=namespace)
        await request_json(api, "POST", kind.collection(namespace), body=body)
        got = await request_json(api, "GET", kind.item(namespace, body["metadata"]["name"]))
        assert got["spec"] == body["spec"]
        assert got.get("operation") == body.get("operation")


@pytest.mark.anyio
async def test_kustomize_source_round_trips(real_api: ApiClient) -> None:
    namespace = await create_namespace(real_api)
    body = samples.application(namespace=namespace)
    body["spec"]["source"] = samples.kustomize_source()
    await request_json(real_api, "POST", APPLICATION.collection(namespace), body=body)
    got = await request_json(real_api, "GET", APPLICATION.item(namespace, "guestbook"))
    assert got["spec"]["source"] == body["spec"]["source"]


@pytest.mark.anyio
@pytest.mark.parametrize("missing", ["project", "destination", "source"])
async def test_real_server_rejects_application_without_required_field(
    real_api: ApiClient, missing: str
) -> None:
    namespace = await create_namespace(real_api)
    body = samples.application(namespace=namespace)
    del body["spec"][missing]
    with pytest.raises(Invalid, match=f"spec.{missing}"):
        await request_json(real_api, "POST", APPLICATION.collection(namespace), body=body)


@pytest.mark.anyio
async def test_real_server_rejects_destination_with_both_server_and_name(
    real_api: ApiClient,
) -> None:
    namespace = await create_namespace(real_api)
    body = samples.application(namespace=namespace)
    body["spec"]["destination"]["server"] = "https://10.0.0.1:6443"
    with pytest.raises(Invalid, match="exactly one of server or name"):
        await request_json(real_api, "POST", APPLICATION.collection(namespace), body=body)


@pytest.mark.anyio
async def test_real_server_rejects_unknown_applications_sync_policy(real_api: ApiClient) -> None:
    namespace = await create_namespace(real_api)
    body = samples.application_set(namespace=namespace)
    body["spec"]["syncPolicy"]["applicationsSync"] = "delete-everything"
    with pytest.raises(Invalid, match=r"spec\.syncPolicy\.applicationsSync"):
        await request_json(real_api, "POST", APPLICATION_SET.collection(namespace), body=body)


@pytest.mark.anyio
async def test_status_write_does_not_change_spec(real_api: ApiClient) -> None:
    namespace = await create_namespace(real_api)
    body = samples.application(namespace=namespace)
    created = await request_json(real_api, "POST", APPLICATION.collection(namespace), body=body)
    changed = copy.deepcopy(created)
    changed["spec"]["project"] = "other"
    changed["status"] = {
        "sync": {"status": "Synced", "revision": "abc123"},
        "health": {"status": "Healthy"},
        "resources": [{"kind": "Service", "name": "web", "status": "Synced", "extra": {"x": 1}}],
    }
    written = await request_json(
        real_api, "PUT", APPLICATION.status(namespace, "guestbook"), body=changed
    )
    assert written["spec"] == created["spec"]
    assert written["status"]["sync"] == {"status": "Synced", "revision": "abc123"}
    assert written["status"]["resources"][0]["extra"] == {"x": 1}


async def _table(api: ApiClient, path: str) -> dict[str, Any]:
    """GET `path` as kubectl does for `kubectl get` (server-side printing)."""
    auth = await api.configuration.auth_settings()
    headers = {"Accept": TABLE, "Authorization": auth["BearerToken"]["value"]}
    response = await api.rest_client.request(
        "GET", str(api.configuration.host) + path, headers=headers, _preload_content=False
    )
    async with response:
        assert response.status == 200, await response.text()
        table: dict[str, Any] = json.loads(await response.read())
    return table


@pytest.mark.anyio
@pytest.mark.parametrize(
    "kind, sample, columns",
    [
        (
            APPLICATION,
            samples.application,
            ["Name", "Sync", "Health", "Revision", "Cluster", "Server", "Project", "Age"],
        ),
        (APPLICATION_SET, samples.application_set, ["Name", "Ready", "Reason", "Age"]),
        (PROJECT, samples.project, ["Name", "Description", "Age"]),
    ],
    ids=["Application", "ApplicationSet", "Project"],
)
async def test_printer_columns_are_what_kubectl_get_shows(
    real_api: ApiClient, kind: Kind, sample: Callable[..., dict[str, Any]], columns: list[str]
) -> None:
    namespace = await create_namespace(real_api)
    await request_json(
        real_api, "POST", kind.collection(namespace), body=sample(namespace=namespace)
    )
    table = await _table(real_api, kind.collection(namespace))
    assert [c["name"] for c in table["columnDefinitions"]] == columns
    row = dict(zip(columns, table["rows"][0]["cells"], strict=True))
    assert row["Name"] == sample()["metadata"]["name"]
    if kind is APPLICATION:
        assert (row["Cluster"], row["Project"]) == ("member-1", "default")
    if kind is PROJECT:
        assert row["Description"] == "Team A's services"
