"""`fleet app sync|rollback`: the `operation` request on the hub, the in-progress and
automated-sync refusals, and `--wait` while a test task plays the controller."""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from typing import Any

import anyio
import pytest

from fleet.api.resources import APPLICATION
from fleet.kube import request_json
from tests.appcli.conftest import (
    SHA1,
    SHA2,
    Hub,
    application,
    fleet_app,
    get_app,
    put_app,
    synced_status,
    write_status,
)

pytestmark = pytest.mark.anyio


async def play_controller(hub: Hub, name: str, phase: str, message: str) -> None:
    """What the controller does with a request: wait for `operation`, then record the finished
    operation in status and clear `operation`."""
    with anyio.fail_after(20):
        while True:
            app = await get_app(hub, name)
            if app.get("operation"):
                break
            await anyio.sleep(0.05)
    requested = app["operation"]
    revision = requested["sync"]["revision"]
    await write_status(
        hub,
        name,
        {
            "operationState": {
                "operation": requested,
                "phase": phase,
                "message": message,
                "startedAt": _now(),
                "finishedAt": _now(),
                "syncResult": {
                    "revision": revision,
                    "resources": [
                        {
                            "kind": "ConfigMap",
                            "namespace": "guestbook",
                            "name": "settings",
                            "status": "Synced" if phase == "Succeeded" else "SyncFailed",
                            "message": message,
                        }
                    ],
                },
            }
        },
    )
    await request_json(
        hub.api,
        "PATCH",
        APPLICATION.item(hub.namespace, name),
        body={"operation": None},
        content_type="application/merge-patch+json",
    )


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def operation_of(app: Mapping[str, Any]) -> dict[str, Any]:
    return dict(app.get("operation") or {})


async def test_sync_requests_the_target_revision_as_operation(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    await put_app(hub, application("web", hub.namespace, target="main"), synced_status())
    assert await fleet_app("sync", "web", *hub.args()) == 0
    assert "sync requested for application web (revision main)" in capsys.readouterr().out
    op = operation_of(await get_app(hub, "web"))
    assert op["sync"] == {"revision": "main", "prune": False}
    assert op["initiatedBy"] == {"username": getpass.getuser()}


async def test_sync_passes_revision_prune_and_dry_run(hub: Hub) -> None:
    await put_app(hub, application("web", hub.namespace))
    argv = ["sync", "web", "--revision", SHA2, "--prune", "--dry-run", *hub.args()]
    assert await fleet_app(*argv) == 0
    op = operation_of(await get_app(hub, "web"))
    assert op["sync"] == {"revision": SHA2, "prune": True, "dryRun": True}


async def test_sync_is_refused_while_an_operation_is_running(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    body = application("web", hub.namespace)
    body["operation"] = {"sync": {"revision": SHA1}, "initiatedBy": {"username": "someone"}}
    await put_app(hub, body, {"operationState": {"phase": "Running", "startedAt": _now()}})
    assert await fleet_app("sync", "web", "--revision", SHA2, *hub.args()) == 2
    assert "another operation is already in progress" in capsys.readouterr().err
    assert operation_of(await get_app(hub, "web"))["sync"]["revision"] == SHA1


async def test_sync_of_an_unknown_application_is_not_found(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await fleet_app("sync", "nope", *hub.args()) == 1
    assert capsys.readouterr().err == (
        f"fleet: application 'nope' not found in namespace {hub.namespace}\n"
    )


async def test_sync_wait_exits_0_when_the_controller_reports_success(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    await put_app(hub, application("web", hub.namespace), synced_status())
    async with anyio.create_task_group() as tg:
        tg.start_soon(play_controller, hub, "web", "Succeeded", "successfully synced")
        code = await fleet_app("sync", "web", "--wait", "--timeout", "30", *hub.args())
    assert code == 0
    out = capsys.readouterr().out
    assert "Phase:              Succeeded" in out
    assert "ConfigMap   guestbook   settings   Synced" in out


async def test_sync_wait_exits_1_when_the_sync_failed(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    await put_app(hub, application("web", hub.namespace), synced_status())
    async with anyio.create_task_group() as tg:
        tg.start_soon(play_controller, hub, "web", "Failed", "one or more objects failed")
        code = await fleet_app("sync", "web", "--wait", "--timeout", "30", *hub.args())
    assert code == 1
    out = capsys.readouterr().out
    assert "Phase:              Failed" in out
    assert "Message:            one or more objects failed" in out


async def test_sync_wait_gives_up_after_the_timeout_with_exit_1(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    await put_app(hub, application("web", hub.namespace))
    assert await fleet_app("sync", "web", "--wait", "--timeout", "0.5", *hub.args()) == 1
    err = capsys.readouterr().err
    assert "did not finish within 0.5s" in err
    assert err.count("\n") == 1


async def test_rollback_is_refused_while_automated_sync_is_on(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    await put_app(hub, application("web", hub.namespace, automated=True), synced_status())
    assert await fleet_app("rollback", "web", "0", *hub.args()) == 2
    err = capsys.readouterr().err
    assert "automated sync enabled" in err and "disable it first" in err
    assert not operation_of(await get_app(hub, "web"))


async def test_rollback_to_an_unknown_id_names_the_valid_ids(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    await put_app(hub, application("web", hub.namespace), synced_status())
    assert await fleet_app("rollback", "web", "7", *hub.args()) == 2
    assert "has no history ID 7; valid IDs: 0, 1" in capsys.readouterr().err
    assert not operation_of(await get_app(hub, "web"))


async def test_rollback_requests_a_sync_to_the_history_revision(hub: Hub) -> None:
    await put_app(hub, application("web", hub.namespace), synced_status())
    assert await fleet_app("rollback", "web", "0", "--prune", *hub.args()) == 0
    op = operation_of(await get_app(hub, "web"))
    assert op["sync"]["revision"] == SHA2
    assert op["sync"]["prune"] is True
    assert op["sync"]["source"]["targetRevision"] == "main"


async def test_rollback_wait_reports_the_controller_result(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    await put_app(hub, application("web", hub.namespace), synced_status())
    async with anyio.create_task_group() as tg:
        tg.start_soon(play_controller, hub, "web", "Succeeded", "successfully synced")
        code = await fleet_app("rollback", "web", "0", "--wait", *hub.args())
    assert code == 0
    assert f"Sync Revision:      {SHA2}" in capsys.readouterr().out


async def test_rollback_is_allowed_when_automated_sync_is_disabled(hub: Hub) -> None:
    body = application("web", hub.namespace, automated=True)
    body["spec"]["syncPolicy"]["automated"]["enabled"] = False
    await put_app(hub, body, synced_status())
    assert await fleet_app("rollback", "web", "1", *hub.args()) == 0
    assert operation_of(await get_app(hub, "web"))["sync"]["revision"] == SHA1


async def test_sync_wait_timeout_reports_the_phase_the_controller_is_retrying(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    await put_app(hub, application("web", hub.namespace))

    async def controller_retrying() -> None:
        with anyio.fail_after(20):
            while not (await get_app(hub, "web")).get("operation"):
                await anyio.sleep(0.05)
        state = {"phase": "Error", "message": "cluster 'member': timed out", "startedAt": _now()}
        await write_status(hub, "web", {"operationState": state})  # `operation` stays: retried

    async with anyio.create_task_group() as tg:
        tg.start_soon(controller_retrying)
        code = await fleet_app("sync", "web", "--wait", "--timeout", "3", *hub.args())
    assert code == 1
    err = capsys.readouterr().err
    assert "did not finish within 3s" in err
    assert "(last phase Error: cluster 'member': timed out)" in err
