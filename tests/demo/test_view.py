"""The demo's view: rows from Application objects, the rich screen, plain lines without ANSI."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from fleet.demo.run import describe_unconverged
from fleet.demo.view import (
    LiveView,
    PlainView,
    Step,
    app_row,
    app_rows,
    build_view,
    progress_text,
)

SERVERS = {
    "https://127.0.0.1:6443/clusters/prod-eu": "prod-eu",
    "https://127.0.0.1:6443/clusters/staging-eu": "staging-eu",
}
SHA = "0123456789abcdef0123456789abcdef01234567"


def application(
    name: str, cluster: str, sync: str | None, health: str | None, revision: str = SHA
) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if sync:
        status["sync"] = {"status": sync, "revision": revision}
    if health:
        status["health"] = {"status": health}
    return {
        "metadata": {"name": name, "namespace": "fleet-system"},
        "spec": {
            "destination": {
                "server": f"https://127.0.0.1:6443/clusters/{cluster}",
                "namespace": "guestbook",
            }
        },
        "status": status,
    }


APPS = [
    application("redis-prod-eu", "prod-eu", "OutOfSync", "Progressing"),
    application("guestbook-prod-eu", "prod-eu", "Synced", "Healthy"),
    application("guestbook-staging-eu", "staging-eu", None, None),
]


def test_row_shows_the_destination_as_a_cluster_name_and_a_short_revision() -> None:
    row = app_row(APPS[1], SERVERS)
    assert (row.name, row.cluster, row.sync, row.health, row.revision) == (
        "guestbook-prod-eu",
        "prod-eu",
        "Synced",
        "Healthy",
        "0123456",
    )
    assert row.ready


def test_row_before_the_first_comparison_is_unknown_without_revision() -> None:
    row = app_row(APPS[2], SERVERS)
    assert (row.sync, row.health, row.revision, row.ready) == ("Unknown", "Unknown", "", False)


def test_row_of_an_unregistered_server_shows_the_server() -> None:
    app = application("x", "elsewhere", "Synced", "Healthy")
    assert app_row(app, SERVERS).cluster == "https://127.0.0.1:6443/clusters/elsewhere"


def test_progress_counts_ready_rows_against_the_expected_total() -> None:
    rows = app_rows(APPS, SERVERS)
    assert progress_text(rows, expected=9) == "1/9 Synced and Healthy"


def test_live_screen_shows_steps_every_row_and_progress() -> None:
    console = Console(record=True, width=120, force_terminal=True)
    steps = [Step("converge", "9 Applications", "done"), Step("drift", "scaling", "running")]
    console.print(build_view("fleet demo", steps, app_rows(APPS, SERVERS), expected=3))
    text = console.export_text()
    lines = text.splitlines()
    assert "+ 1. converge: 9 Applications" in lines
    assert "> 2. drift: scaling" in lines
    header = next(line for line in lines if line.startswith("APPLICATION"))
    assert header.split() == ["APPLICATION", "CLUSTER", "SYNC", "HEALTH", "REVISION"]
    assert any(
        line.split() == ["redis-prod-eu", "prod-eu", "OutOfSync", "Progressing", "0123456"]
        for line in lines
    )
    assert any(
        line.split() == ["guestbook-staging-eu", "staging-eu", "Unknown", "Unknown", "-"]
        for line in lines
    )
    assert "1/3 Synced and Healthy" in lines


def test_live_view_redraws_from_its_latest_rows() -> None:
    console = Console(record=True, width=120, force_terminal=True)
    view = LiveView(console, "fleet demo", expected=3)
    view.set_steps([Step("converge")])
    view.update(app_rows(APPS[:1], SERVERS))
    console.print(view.renderable())
    assert "0/3 Synced and Healthy" in console.export_text()


def test_plain_view_prints_each_change_once_without_ansi() -> None:
    out = io.StringIO()
    view = PlainView(out, expected=3)
    view.update(app_rows(APPS, SERVERS))
    view.update(app_rows(APPS, SERVERS))  # nothing changed: nothing printed
    changed = [
        APPS[0]
        | {
            "status": {
                "sync": {"status": "Synced", "revision": SHA},
                "health": {"status": "Healthy"},
            }
        },
        *APPS[1:],
    ]
    view.update(app_rows(changed, SERVERS))
    text = out.getvalue()
    assert "\x1b" not in text
    lines = [line.split("] ", 1)[1] for line in text.splitlines()]
    assert [line.split() for line in lines if line.startswith("redis-prod-eu")] == [
        ["redis-prod-eu", "prod-eu", "OutOfSync", "Progressing", "0123456"],
        ["redis-prod-eu", "prod-eu", "Synced", "Healthy", "0123456"],
    ]
    assert [line for line in lines if "Synced and Healthy" in line] == [
        "1/3 Synced and Healthy",
        "2/3 Synced and Healthy",
    ]


def test_plain_view_prints_steps_as_they_start_and_finish() -> None:
    out = io.StringIO()
    view = PlainView(out, expected=1)
    steps = [Step("converge"), Step("drift")]
    view.set_steps(steps)
    steps[1].state, steps[1].detail = "done", "reverted in 30 ms"
    view.step_changed(2)
    view.step_changed(1)  # still pending: not printed
    assert out.getvalue().split("] ", 1)[1] == "+ 2. drift: reverted in 30 ms\n"


def test_unconverged_description_names_state_conditions_and_last_operation() -> None:
    app = application("guestbook-prod-eu", "prod-eu", "OutOfSync", "Missing", revision="")
    app["status"]["conditions"] = [
        {"type": "ComparisonError", "message": "kustomize: not installed"}
    ]
    app["status"]["operationState"] = {"phase": "Failed", "message": "render failed"}
    text = describe_unconverged(app, SHA)
    assert text.startswith("sync OutOfSync at - (want 0123456), health Missing")
    assert "condition ComparisonError: kustomize: not installed" in text
    assert "last operation Failed: render failed" in text


def test_converged_application_has_no_description() -> None:
    assert describe_unconverged(APPS[1], SHA) == ""
    assert describe_unconverged(APPS[1], "f" * 40) != ""


def test_progress_counts_only_applications_at_the_commit_being_rolled_out() -> None:
    rows = app_rows(
        [
            application("guestbook-prod-eu", "prod-eu", "Synced", "Healthy", revision="a" * 40),
            application("redis-prod-eu", "prod-eu", "Synced", "Healthy", revision=SHA),
        ],
        SERVERS,
    )
    assert progress_text(rows, expected=2, target="a" * 40) == ("1/2 Synced and Healthy at aaaaaaa")


def test_plain_view_lines_fit_80_columns_and_keep_paths_whole() -> None:
    out = io.StringIO()
    view = PlainView(out, expected=1)
    path = "/tmp/fleet-demo-abcdefgh/kubeconfigs/" + "x" * 30 + ".kubeconfig"
    view.note("a long explanation of what the demo did " * 4 + path)
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines if path not in line), lines
    assert any(line.strip() == path for line in lines)


def test_live_screen_fits_80_columns() -> None:
    console = Console(record=True, width=80, force_terminal=True)
    long = Step("rollout", "git commit 0123456 (guestbook production overlay: " * 3, "running")
    console.print(build_view("fleet demo", [long], app_rows(APPS, SERVERS), expected=3))
    assert all(len(line) <= 80 for line in console.export_text().splitlines())


def test_a_block_of_commands_is_printed_whole_for_copying() -> None:
    out = io.StringIO()
    command = "  export KUBECONFIG=/tmp/fleet-demo-abcdefgh/kubeconfigs/" + "x" * 40
    PlainView(out, expected=1).block(["explore:", command])
    assert out.getvalue().splitlines() == ["explore:", command]
