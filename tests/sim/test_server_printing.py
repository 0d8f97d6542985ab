"""Table responses (kubectl's server-side printing), the scale subresource and defaults."""

from __future__ import annotations

import json

import pytest

from fleet.sim.tables import human_duration
from tests.sim.conftest import DEPLOY_PATH, Raw, deployment

pytestmark = pytest.mark.anyio

TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


async def _get_table(raw: Raw, path: str) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {raw.token}", "Accept": TABLE_ACCEPT}
    async with raw.session.get(raw.cluster.server + path, headers=headers) as response:
        assert response.status == 200
        body: dict[str, object] = json.loads(await response.text())
        return body


async def test_list_as_table_has_deployment_columns(raw: Raw) -> None:
    await raw.request("POST", DEPLOY_PATH, deployment("web", replicas=2))
    table = await _get_table(raw, DEPLOY_PATH)
    assert table["kind"] == "Table"
    columns = [c["name"] for c in table["columnDefinitions"]]  # type: ignore[attr-defined]
    assert columns[:5] == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    row = table["rows"][0]  # type: ignore[index]
    assert row["cells"][0] == "web"
    assert row["object"]["kind"] == "PartialObjectMetadata"


def test_human_duration_matches_kubernetes() -> None:
    assert [human_duration(s) for s in (5, 119, 150, 600, 7200, 3 * 86400 + 3600)] == [
        "5s",
        "119s",
        "2m30s",
        "10m",
        "120m",
        "3d1h",
    ]


async def test_scale_subresource_reads_and_writes_replicas(raw: Raw) -> None:
    await raw.request("POST", DEPLOY_PATH, deployment("web", replicas=2))
    code, scale = await raw.request("GET", DEPLOY_PATH + "/web/scale")
    assert code == 200
    assert scale["kind"] == "Scale"
    assert scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 2}
    assert scale["status"]["selector"] == "app=web"
    code, scaled = await raw.request(
        "PATCH",
        DEPLOY_PATH + "/web/scale",
        {"spec": {"replicas": 5}},
        content_type="application/merge-patch+json",
        params={"fieldManager": "hpa"},
    )
    assert code == 200
    assert scaled["spec"] == {"replicas": 5}
    _, body = await raw.request("GET", DEPLOY_PATH + "/web")
    assert body["spec"]["replicas"] == 5
    assert body["metadata"]["generation"] == 2
    hpa = next(m for m in body["metadata"]["managedFields"] if m["manager"] == "hpa")
    assert hpa["subresource"] == "scale"
    assert hpa["fieldsV1"] == {"f:spec": {"f:replicas": {}}}


async def test_deployment_gets_api_server_defaults(raw: Raw) -> None:
    _, body = await raw.request("POST", DEPLOY_PATH, deployment("web"))
    spec = body["spec"]
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    pod = spec["template"]["spec"]
    assert pod["dnsPolicy"] == "ClusterFirst"
    assert pod["restartPolicy"] == "Always"
    container = pod["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["terminationMessagePath"] == "/dev/termination-log"


async def test_protected_namespace_cannot_be_deleted(raw: Raw) -> None:
    code, body = await raw.request("DELETE", "/api/v1/namespaces/default")
    assert code == 403
    assert body["message"] == 'namespaces "default" is forbidden: this namespace may not be deleted'


async def test_custom_resource_table_uses_printer_columns(raw: Raw) -> None:
    from tests.sim.test_discovery import CRD_PATH, WIDGETS, crd, widget

    definition = crd()
    definition["spec"]["versions"][0]["additionalPrinterColumns"] = [
        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        },
    ]
    await raw.request("POST", CRD_PATH, definition)
    await raw.request("POST", WIDGETS, widget({"size": 3}))
    table = await _get_table(raw, WIDGETS)
    columns = [c["name"] for c in table["columnDefinitions"]]  # type: ignore[attr-defined]
    assert columns == ["Name", "Size", "Ready"]
    assert table["rows"][0]["cells"] == ["w", 3, None]  # type: ignore[index]
