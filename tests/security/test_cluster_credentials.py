"""Credentials from the hub never make the controller read its own files, run commands the
operator did not allow (or hand them its environment), send a token in clear text, or quietly
follow a Cluster whose server was changed under its credentials."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import anyio
import pytest
import structlog
import yaml
from kubernetes_asyncio.client import ApiClient

from fleet.cli import build_parser
from fleet.clusters.credentials import (
    ARGOCD_SECRET_TYPE_LABEL,
    EXEC_PATH,
    CredentialsError,
    ExecConfig,
    ExecError,
    ExecPolicy,
    ExecProvider,
    parse_kubeconfig,
    parse_secret,
)
from fleet.controllers.main import settings_from_args
from fleet.kube import Credentials, build_api_client, request_json
from tests.clusters.harness import (
    Env,
    condition,
    get_cluster,
    put_cluster,
    put_secret,
    ready,
    reason_is,
    running,
    wait_cluster,
)

pytestmark = pytest.mark.anyio

ON_DISK = "secret-from-the-controllers-disk-91c2"


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def printer(tmp_path: Path, token: str, name: str = "helper.sh", before: str = "") -> str:
    """An exec plugin printing an ExecCredential with `token` (after running `before`)."""
    doc = json.dumps({"kind": "ExecCredential", "status": {"token": token}})
    return script(tmp_path, name, f"{before}cat <<'EOF'\n{doc}\nEOF\n")


def allow(*commands: str) -> ExecPolicy:
    return ExecPolicy(allowed=frozenset(commands))


# -- file references ----------------------------------------------------------------------------


def _kubeconfig(cluster: dict[str, Any], user: dict[str, Any]) -> str:
    return yaml.safe_dump(
        {
            "clusters": [{"name": "c", "cluster": {"server": "https://member.example", **cluster}}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "one", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "one",
        }
    )


FILE_FIELDS = [
    ({}, {"tokenFile": "{file}"}, "users[0].user.tokenFile", "token"),
    (
        {},
        {"token": "t", "client-certificate": "{file}", "client-key-data": "a2V5"},
        "users[0].user.client-certificate",
        "client-certificate-data",
    ),
    (
        {},
        {"token": "t", "client-key": "{file}", "client-certificate-data": "Y2VydA=="},
        "users[0].user.client-key",
        "client-key-data",
    ),
    (
        {"certificate-authority": "{file}"},
        {"token": "t"},
        "clusters[0].cluster.certificate-authority",
        "certificate-authority-data",
    ),
]


@pytest.mark.parametrize(
    ("cluster", "user", "field", "instead"),
    FILE_FIELDS,
    ids=["tokenFile", "client-certificate", "client-key", "certificate-authority"],
)
def test_a_file_reference_in_a_hub_kubeconfig_is_refused(
    tmp_path: Path, cluster: dict[str, Any], user: dict[str, Any], field: str, instead: str
) -> None:
    """`tokenFile: /var/run/secrets/...` made the controller read its own ServiceAccount token
    and send it to the server the Secret names (and `/dev/zero` was read until OOM)."""
    on_disk = tmp_path / "on-disk"
    on_disk.write_text(ON_DISK)
    text = _kubeconfig(
        {k: str(on_disk) for k in cluster}, {k: v.format(file=on_disk) for k, v in user.items()}
    )
    secret = {
        "metadata": {"name": "s"},
        "data": {"kubeconfig": base64.b64encode(text.encode()).decode()},
    }
    with pytest.raises(CredentialsError) as caught:
        parse_secret(secret)
    message = str(caught.value)
    assert message.startswith(f"kubeconfig.{field}: file references are not allowed")
    assert instead in message and ON_DISK not in message


def test_the_cli_still_embeds_files_of_the_operators_own_kubeconfig(tmp_path: Path) -> None:
    """`fleet cluster add --kubeconfig K` reads the files K names (on the operator's machine)
    and stores them as data: file reading is an explicit option only the CLI and the hub
    client use."""
    token_file = tmp_path / "token"
    token_file.write_text("operator-token\n")
    text = _kubeconfig({}, {"tokenFile": str(token_file)})
    assert parse_kubeconfig(text, allow_files=True).token == "operator-token"
    with pytest.raises(CredentialsError, match="file references are not allowed"):
        parse_kubeconfig(text)


# -- exec plugins -------------------------------------------------------------------------------


async def test_an_exec_plugin_from_a_secret_is_refused_unless_allowed(
    sim: Env, hub: ApiClient, namespace: str, tmp_path: Path
) -> None:
    member = sim.members[0]
    ran = tmp_path / "ran"
    plugin = printer(tmp_path, member.token, before=f"touch {ran}\n")
    await put_secret(hub, namespace, "m1", {"exec": json.dumps({"command": plugin})})
    await put_cluster(hub, namespace, "m1", member.server, "m1")
    async with running(sim, namespace) as (_, registry):
        obj = await wait_cluster(hub, namespace, "m1", reason_is("ExecNotAllowed"))
        assert "m1" not in registry.registered
    message = condition(obj, "Ready")["message"]
    assert message.startswith("data.exec.command:") and f"--exec-plugin-allow {plugin}" in message
    assert not ran.exists()


async def test_an_allowed_exec_plugin_runs_and_is_logged_without_its_arguments(
    sim: Env, hub: ApiClient, namespace: str, tmp_path: Path
) -> None:
    member = sim.members[0]
    plugin = printer(tmp_path, member.token)
    spec = {"command": plugin, "args": ["--secret-arg=arg-value-77"]}
    await put_secret(hub, namespace, "m1", {"exec": json.dumps(spec), "ca.crt": member.ca_pem})
    await put_cluster(hub, namespace, "m1", member.server, "m1")
    with structlog.testing.capture_logs() as logs:
        async with running(sim, namespace, exec_policy=allow(plugin)):
            await wait_cluster(hub, namespace, "m1", ready)
    runs = [e for e in logs if e["event"] == "cluster.exec_plugin_run"]
    assert runs and runs[0]["cluster"] == "m1" and runs[0]["command"] == plugin
    assert "arg-value-77" not in json.dumps(logs, default=str)


async def test_an_exec_plugin_does_not_inherit_the_controllers_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Webhook secrets (and everything else) in the controller's environment stay there."""
    monkeypatch.setenv("FLEET_WEBHOOK_GITHUB_SECRET", "webhook-secret-4411")
    dump = tmp_path / "env"
    plugin = printer(tmp_path, "t", before=f"env > {dump}\npwd >> {dump}\n")
    provider = ExecProvider(
        ExecConfig(plugin, env=(("FROM_CONFIG", "yes"),)), policy=allow(plugin), cluster="m1"
    )
    assert await provider.token() == "t"
    seen = dict(line.split("=", 1) for line in dump.read_text().splitlines() if "=" in line)
    assert "FLEET_WEBHOOK_GITHUB_SECRET" not in seen
    assert seen["PATH"] == EXEC_PATH and seen["FROM_CONFIG"] == "yes"
    assert "KUBERNETES_EXEC_INFO" in seen
    assert seen["HOME"] != os.environ.get("HOME") and not Path(seen["HOME"]).exists()
    assert set(seen) <= {"PATH", "HOME", "FROM_CONFIG", "KUBERNETES_EXEC_INFO", "PWD", "SHLVL", "_"}


@pytest.mark.parametrize("name", ["PATH", "HOME", "LD_PRELOAD", "BASH_ENV"])
def test_an_exec_plugin_config_cannot_redirect_what_runs(name: str) -> None:
    """An allowed `aws` with `PATH=/tmp/x` or `LD_PRELOAD` from the Secret would run other
    code than the operator allowed."""
    spec = {"command": "aws", "env": [{"name": name, "value": "/tmp/x"}]}
    secret = {
        "metadata": {"name": "s"},
        "data": {"exec": base64.b64encode(json.dumps(spec).encode()).decode()},
    }
    config = parse_secret(secret).exec
    assert config is not None
    with pytest.raises(CredentialsError, match=rf"^data\.exec\.env\.{name}:"):
        allow("aws").check(config)


def test_an_exec_timeout_above_the_cap_is_refused() -> None:
    """`timeout: 100000` held the registry for a day."""
    spec = {"command": "sleep", "args": ["600"], "timeout": 100000}
    data = base64.b64encode(json.dumps(spec).encode()).decode()
    with pytest.raises(CredentialsError, match=r"^data\.exec\.timeout: at most 60 seconds"):
        parse_secret({"metadata": {"name": "s"}, "data": {"exec": data}})


async def test_an_exec_plugin_flooding_stdout_is_cut_off(tmp_path: Path) -> None:
    plugin = script(tmp_path, "flood.sh", "head -c 3000000 /dev/zero\n")
    provider = ExecProvider(ExecConfig(plugin, timeout=20), policy=allow(plugin), cluster="m1")
    with pytest.raises(ExecError, match="more than 1048576 bytes on stdout"):
        await provider.token()


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


async def test_a_timed_out_exec_plugin_is_killed_with_its_children(tmp_path: Path) -> None:
    """A plugin's own children (a `sleep` it started) must not outlive its timeout."""
    pid_file = tmp_path / "child"
    plugin = script(tmp_path, "spawner.sh", f"sleep 600 &\necho $! > {pid_file}\nwait\n")
    provider = ExecProvider(ExecConfig(plugin, timeout=1), policy=allow(plugin), cluster="m1")
    with pytest.raises(ExecError, match="timed out"):
        await provider.token()
    child = int(pid_file.read_text())
    with anyio.fail_after(30):  # a hang guard: the old code left the child alive for good
        while _alive(child):
            await anyio.sleep(0.05)


async def test_a_hanging_exec_plugin_delays_only_its_own_cluster(
    sim: Env, hub: ApiClient, namespace: str, tmp_path: Path
) -> None:
    """A plugin that sleeps held the registry's serial resync, so no other cluster
    registered (or changed) until it timed out."""
    member = sim.members[0]
    hang = script(tmp_path, "hang.sh", "sleep 600\n")
    await put_secret(hub, namespace, "hang", {"exec": json.dumps({"command": hang, "timeout": 60})})
    await put_cluster(hub, namespace, "a-hang", member.server, "hang")
    await put_secret(hub, namespace, "good", {"token": member.token, "ca.crt": member.ca_pem})
    await put_cluster(hub, namespace, "b-good", member.server, "good")
    async with running(sim, namespace, exec_policy=allow(hang)) as (_, registry):
        await wait_cluster(hub, namespace, "b-good", ready, timeout=15)
        assert "a-hang" in registry.registered  # still a cluster: its Applications stay


def test_exec_plugin_allow_is_a_controller_flag_off_by_default() -> None:
    parser = build_parser()
    default = settings_from_args(parser.parse_args(["controller", "run"]))
    assert default.exec_policy.allowed == frozenset()
    args = parser.parse_args(
        [
            "controller",
            "run",
            "--exec-plugin-allow",
            "argocd-k8s-auth",
            "--exec-plugin-allow",
            "/usr/local/bin/aws",
        ]
    )
    assert settings_from_args(args).exec_policy.allowed == {"argocd-k8s-auth", "/usr/local/bin/aws"}
    relative = parser.parse_args(["controller", "run", "--exec-plugin-allow", "bin/aws"])
    with pytest.raises(ValueError, match="--exec-plugin-allow bin/aws"):
        settings_from_args(relative)


# -- where credentials are sent -----------------------------------------------------------------


async def _listener() -> tuple[anyio.abc.SocketListener, list[bytes]]:
    received: list[bytes] = []
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    return listener, received


async def _record(listener: anyio.abc.SocketListener, received: list[bytes]) -> None:
    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            with anyio.move_on_after(2):
                received.append(await stream.receive())

    await listener.serve(handle)


async def test_a_token_is_never_sent_to_an_http_server(
    sim: Env, hub: ApiClient, namespace: str
) -> None:
    """Patching only `spec.server` to `http://...` sent the bearer token in clear text."""
    member = sim.members[0]
    listener, received = await _listener()
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await put_secret(hub, namespace, "m1", {"token": member.token})
    await put_cluster(hub, namespace, "m1", f"http://127.0.0.1:{port}", "m1")
    async with anyio.create_task_group() as tg:
        tg.start_soon(_record, listener, received)
        async with running(sim, namespace):
            obj = await wait_cluster(hub, namespace, "m1", reason_is("InsecureServer"))
        tg.cancel_scope.cancel()
    assert condition(obj, "Ready")["message"].startswith("spec.server:")
    assert received == []


def test_the_client_layer_refuses_credentials_over_http() -> None:
    for creds in (
        Credentials(server="http://127.0.0.1:1", token="t"),
        Credentials(server="HTTP://127.0.0.1:1", client_cert_pem=b"c", client_key_pem=b"k"),
    ):
        with pytest.raises(ValueError, match="plain http"):
            build_api_client(creds)


async def test_an_argocd_secret_with_an_http_server_is_not_registered(
    sim: Env, hub: ApiClient, namespace: str
) -> None:
    member = sim.members[0]
    await put_secret(
        hub,
        namespace,
        "argo-http",
        {
            "name": "argo-http",
            "server": "http://127.0.0.1:1",
            "config": json.dumps({"bearerToken": member.token}),
        },
        labels={ARGOCD_SECRET_TYPE_LABEL: "cluster"},
    )
    with structlog.testing.capture_logs() as logs:
        async with running(sim, namespace) as (_, registry):
            await registry.synced.wait()
            event = await _wait_event(hub, namespace, "argo-http", "InsecureServer")
            assert "argo-http" not in registry.registered
    assert event["message"].startswith("data.server:")
    assert any(e.get("secret") == "argo-http" and "data.server" in e["error"] for e in logs)


async def test_insecure_tls_is_shown_on_the_cluster(
    sim: Env, hub: ApiClient, namespace: str
) -> None:
    """`insecure: true` turned verification off without a trace on the Cluster."""
    member = sim.members[0]
    await put_secret(hub, namespace, "m1", {"token": member.token, "insecure": "true"})
    await put_cluster(hub, namespace, "m1", member.server, "m1")
    async with running(sim, namespace):
        obj = await wait_cluster(
            hub, namespace, "m1", lambda o: ready(o) and condition(o, "InsecureTLS") != {}
        )
    warning = condition(obj, "InsecureTLS")
    assert warning["status"] == "True" and "data.insecure" in warning["message"]


async def _wait_event(hub: ApiClient, namespace: str, name: str, reason: str) -> dict[str, Any]:
    with anyio.fail_after(15):
        while True:
            listing = await request_json(hub, "GET", f"/api/v1/namespaces/{namespace}/events")
            for event in listing.get("items") or []:
                involved = event.get("involvedObject") or {}
                if involved.get("name") == name and event.get("reason") == reason:
                    return dict(event)
            await anyio.sleep(0.05)


async def _patch_server(hub: ApiClient, namespace: str, name: str, server: str) -> None:
    await request_json(
        hub,
        "PATCH",
        f"/apis/fleet.gitops.dev/v1alpha1/namespaces/{namespace}/clusters/{name}",
        body={"spec": {"server": server}},
        content_type="application/merge-patch+json",
    )


async def test_a_changed_server_is_shown_on_the_cluster_until_the_secret_confirms_it(
    sim: Env, hub: ApiClient, namespace: str
) -> None:
    """Patching a Cluster's `spec.server` silently sent its Secret's credentials elsewhere."""
    first, second = sim.members
    await put_secret(hub, namespace, "m1", {"token": first.token, "ca.crt": first.ca_pem})
    await put_cluster(hub, namespace, "m1", first.server, "m1")
    async with running(sim, namespace):
        obj = await wait_cluster(
            hub, namespace, "m1", lambda o: ready(o) and "server" in o["status"]
        )
        assert obj["status"]["server"] == first.server
        assert condition(obj, "ServerChanged")["status"] == "False"

        await _patch_server(hub, namespace, "m1", second.server)
        changed = await wait_cluster(
            hub, namespace, "m1", lambda o: condition(o, "ServerChanged").get("status") == "True"
        )
        event = await _wait_event(hub, namespace, "m1", "ServerChanged")

        confirm = {"token": second.token, "ca.crt": second.ca_pem}
        await put_secret(hub, namespace, "m1", confirm)  # the Secret's owner confirms
        confirmed = await wait_cluster(
            hub, namespace, "m1", lambda o: condition(o, "ServerChanged").get("status") == "False"
        )
    message = condition(changed, "ServerChanged")["message"]
    assert first.server in message and second.server in message and "m1" in message
    assert changed["status"]["server"] == first.server
    assert event["type"] == "Warning" and event["involvedObject"]["kind"] == "Cluster"
    assert confirmed["status"]["server"] == second.server


async def test_a_secret_bound_to_a_server_is_not_sent_to_another(
    sim: Env, hub: ApiClient, namespace: str
) -> None:
    """A Secret that names its server (as `fleet cluster add` writes it, and as every Argo CD
    cluster Secret does) is used for that server only."""
    first, second = sim.members
    await put_secret(hub, namespace, "m1", {"token": first.token, "server": first.server})
    await put_cluster(hub, namespace, "m1", second.server, "m1")
    async with running(sim, namespace) as (_, registry):
        obj = await wait_cluster(hub, namespace, "m1", reason_is("ServerMismatch"))
        assert "m1" not in registry.registered
    message = condition(obj, "Ready")["message"]
    assert message.startswith("spec.server:") and "data.server" in message
    assert (await get_cluster(hub, namespace, "m1"))["spec"]["server"] == second.server
