"""The dashboard's view-model: rows, filters, problems first, pages, the Fleet matrix."""

from __future__ import annotations

from typing import Any

from fleet.server.dashboard.model import ClusterView, Filters, Store, summarise


def app(
    name: str,
    *,
    cluster: str = "m1",
    sync: str = "Synced",
    health: str = "Healthy",
    appset: str = "web",
    project: str = "default",
    labels: dict[str, str] | None = None,
    conditions: list[dict[str, str]] | None = None,
    version: str = "1",
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "resourceVersion": version,
        "labels": {"fleet.gitops.dev/applicationset": appset, **(labels or {})},
    }
    status: dict[str, Any] = {"sync": {"status": sync}, "health": {"status": health}}
    if conditions:
        status["conditions"] = conditions
    return {
        "metadata": meta,
        "spec": {"project": project, "destination": {"name": cluster, "namespace": "apps"}},
        "status": status,
    }


def test_problems_come_first_then_names() -> None:
    store = Store()
    store.reset_apps(
        [
            app("a-fine"),
            app("b-drifted", sync="OutOfSync"),
            app("c-broken", health="Degraded"),
            app("d-error", conditions=[{"type": "ComparisonError", "message": "boom"}]),
        ]
    )
    assert [r.name for r in store.query(Filters()).rows] == [
        "c-broken",
        "d-error",
        "b-drifted",
        "a-fine",
    ]


def test_a_status_change_moves_the_row_and_is_published() -> None:
    store = Store()
    heard: list[tuple[str, str, Any]] = []
    store.listeners.append(lambda kind, name, payload: heard.append((kind, name, payload)))
    store.reset_apps([app("a"), app("b")])
    heard.clear()
    store.put_app(app("b", sync="OutOfSync", version="2"))
    assert [r.name for r in store.query(Filters()).rows] == ["b", "a"]
    assert heard == [("app", "b", store.rows["b"].public())]


def test_an_unchanged_row_is_not_published() -> None:
    store = Store()
    store.put_app(app("a"))
    heard: list[str] = []
    store.listeners.append(lambda kind, name, payload: heard.append(name))
    store.put_app(app("a"))
    assert heard == []


def test_filters_combine_cluster_sync_label_and_text() -> None:
    store = Store()
    store.reset_apps(
        [
            app("web-m1", labels={"team": "a"}, sync="OutOfSync"),
            app("web-m2", cluster="m2", labels={"team": "a"}, sync="OutOfSync"),
            app("api-m1", labels={"team": "b"}, sync="OutOfSync"),
            app("web-ok", labels={"team": "a"}),
        ]
    )
    page = store.query(Filters(cluster="m1", sync="OutOfSync", label="team=a", text="WEB"))
    assert [r.name for r in page.rows] == ["web-m1"]
    assert [r.name for r in store.query(Filters(label="team")).rows] == [
        "api-m1",
        "web-m1",
        "web-m2",
        "web-ok",
    ]


def test_pages_are_cut_on_the_server() -> None:
    store = Store()
    store.reset_apps([app(f"app-{i:04d}") for i in range(120)])
    page = store.query(Filters(), page=3, per_page=50)
    assert (page.total, page.pages, page.page, len(page.rows)) == (120, 3, 3, 20)
    assert page.rows[0].name == "app-0100"


def test_a_fleet_cell_shows_the_worst_sync_and_health_of_its_applications() -> None:
    store = Store()
    store.set_clusters([ClusterView("m1", ready="True"), ClusterView("m9", ready="False")])
    store.reset_apps(
        [
            app("a", sync="OutOfSync"),
            app("b", health="Degraded"),
            app("c", appset="db"),
        ]
    )
    matrix = store.matrix("appset")
    assert matrix.columns == ["db", "web"]
    (m1, cells), (m9, empty) = matrix.rows
    assert (m1.name, m9.name, m9.ready, empty) == ("m1", "m9", "False", {})
    web = cells["web"]
    assert (web.count, web.sync, web.health) == (2, "OutOfSync", "Degraded")
    assert (cells["db"].sync, cells["db"].health) == ("Synced", "Healthy")


def test_a_malformed_application_reads_as_unknown_instead_of_raising() -> None:
    row = summarise(
        {"metadata": {"name": "odd", "labels": "x"}, "spec": [], "status": {"sync": "nope"}}
    )
    assert (row.name, row.sync, row.health, row.project) == ("odd", "Unknown", "Unknown", "default")


def test_a_cluster_without_registration_still_gets_a_row_named_as_written() -> None:
    store = Store()
    store.reset_apps([app("a", cluster="https://10.0.0.9:6443")])
    [(view, cells)] = store.matrix("project").rows
    assert (view.name, view.reason) == ("https://10.0.0.9:6443", "NotRegistered")
    assert cells["default"].count == 1
