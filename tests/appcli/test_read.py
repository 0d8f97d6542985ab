"""`fleet app list|get|history` against a fleet.sim hub with Applications as the controller
leaves them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.appcli.conftest import SHA1, SHA2, Hub, application, fleet_app, put_app, synced_status

pytestmark = pytest.mark.anyio


async def test_list_prints_a_row_per_application(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    await put_app(hub, application("web", hub.namespace), synced_status())
    server = {"server": "https://10.0.0.1:6443", "namespace": "db"}
    await put_app(hub, application("db", hub.namespace, destination=server))
    assert await fleet_app("list", *hub.args()) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "NAME", "CLUSTER", "NAMESPACE", "PROJECT", "SYNC", "HEALTH", "REVISION", "AGE",
    ]  # fmt: skip
    db, web = (line.split() for line in lines[1:])
    assert db[:7] == [
        "db",
        "https://10.0.0.1:6443",
        "db",
        "default",
        "Unknown",
        "Unknown",
        "<none>",
    ]
    assert web[:7] == ["web", "member", "guestbook", "default", "Synced", "Healthy", SHA1[:7]]
    assert web[7].endswith("s")  # created seconds ago


async def test_list_selects_by_label(hub: Hub, capsys: pytest.CaptureFixture[str]) -> None:
    await put_app(hub, application("a", hub.namespace, labels={"team": "blue"}))
    await put_app(hub, application("b", hub.namespace, labels={"team": "red"}))
    assert await fleet_app("list", "-l", "team=red", *hub.args()) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert names == ["b"]


async def test_list_json_holds_the_objects_without_managed_fields(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    await put_app(hub, application("web", hub.namespace), synced_status())
    assert await fleet_app("list", "-o", "json", *hub.args()) == 0
    items = json.loads(capsys.readouterr().out)["items"]
    assert [i["metadata"]["name"] for i in items] == ["web"]
    assert "managedFields" not in items[0]["metadata"]
    assert items[0]["status"]["sync"]["revision"] == SHA1


async def test_get_prints_summary_operation_conditions_and_resources(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    await put_app(hub, application("web", hub.namespace), synced_status())
    assert await fleet_app("get", "web", *hub.args()) == 0
    out = capsys.readouterr().out
    fields = {
        line.split(":", 1)[0]: line.split(":", 1)[1].strip()
        for line in out.splitlines()
        if ":" in line and not line.startswith(("SyncError", " "))
    }
    assert fields["Name"] == f"{hub.namespace}/web"
    assert fields["Repo"] == "https://git.example.com/apps.git"
    assert fields["Path"] == "guestbook"
    assert fields["Target"] == "main"
    assert fields["Cluster"] == "member"
    assert fields["Sync Status"] == f"Synced to main ({SHA1[:7]})"
    assert fields["Health Status"] == "Healthy"
    assert fields["Phase"] == "Succeeded"
    assert fields["Message"] == "successfully synced (all tasks run)"
    assert fields["Duration"] == "5s"
    assert "SyncError   one object failed" in out
    table = out[out.index("GROUP") :].splitlines()
    assert table[0].split() == ["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH"]
    assert table[1].split() == ["ConfigMap", "guestbook", "settings", "Synced", "Healthy"]
    assert table[2].split() == [
        "apps",
        "Deployment",
        "guestbook",
        "web",
        "OutOfSync",
        "Progressing",
    ]


async def test_get_yaml_is_the_object(hub: Hub, capsys: pytest.CaptureFixture[str]) -> None:
    await put_app(hub, application("web", hub.namespace), synced_status())
    assert await fleet_app("get", "web", "-o", "yaml", *hub.args()) == 0
    obj = yaml.safe_load(capsys.readouterr().out)
    assert obj["kind"] == "Application"
    assert obj["status"]["health"]["status"] == "Healthy"
    assert "managedFields" not in obj["metadata"]


async def test_get_of_an_unknown_application_is_one_line_and_exit_1(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await fleet_app("get", "nope", *hub.args()) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"fleet: application 'nope' not found in namespace {hub.namespace}\n")


async def test_an_unreachable_hub_is_one_line_and_exit_1(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.faults().clusters["hub"].faults.refuse = True
    assert await fleet_app("list", *hub.args()) == 1
    err = capsys.readouterr().err
    assert err.startswith("fleet: hub unreachable: ")
    assert err.count("\n") == 1


async def test_history_lists_id_date_and_revision(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    await put_app(hub, application("web", hub.namespace), synced_status())
    assert await fleet_app("history", "web", *hub.args()) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "DATE", "REVISION", "STARTED"]
    assert lines[1].split() == [
        "0", "2026-11-19T09:00:10Z", "main", f"({SHA2[:7]})", "2026-11-19T09:00:00Z",
    ]  # fmt: skip
    assert lines[2].split()[:2] == ["1", "2026-11-20T10:00:05Z"]


async def test_history_json_is_the_entries(hub: Hub, capsys: pytest.CaptureFixture[str]) -> None:
    await put_app(hub, application("web", hub.namespace), synced_status())
    assert await fleet_app("history", "web", "-o", "json", *hub.args()) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [(e["id"], e["revision"]) for e in entries] == [(0, SHA2), (1, SHA1)]


async def test_no_credential_shows_up_in_read_outputs(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    await put_app(hub, application("web", hub.namespace), synced_status())
    for argv in (["list"], ["list", "-o", "yaml"], ["get", "web"], ["get", "web", "-o", "json"]):
        await fleet_app(*argv, *hub.args())
    await fleet_app("get", "missing", *hub.args())
    captured = capsys.readouterr()
    for token in hub.tokens:
        assert token not in captured.out + captured.err


async def test_list_of_an_empty_namespace_says_so_on_stderr(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await fleet_app("list", *hub.args()) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"No applications found in namespace {hub.namespace}.\n"


async def test_an_unknown_hub_context_is_bad_input(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await fleet_app("list", "--context", "nope", *hub.args()) == 2
    err = capsys.readouterr().err
    assert err.startswith("fleet: ") and "nope" in err
    assert err.count("\n") == 1


async def test_a_missing_hub_kubeconfig_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.kubeconfig"
    assert await fleet_app("list", "--hub-kubeconfig", str(missing)) == 2
    assert capsys.readouterr().err == f"fleet: {missing}: No such file or directory\n"
