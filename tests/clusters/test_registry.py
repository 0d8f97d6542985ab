"""The registry end to end on both backends: Secrets and Clusters on the hub -> health in
the Cluster's status, with no restart for any change."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient

from fleet.clusters.credentials import ARGOCD_SECRET_TYPE_LABEL, ExecPolicy
from tests.clusters.harness import (
    Env,
    condition,
    put_cluster,
    put_secret,
    ready,
    reason_is,
    running,
    wait_cluster,
)

pytestmark = pytest.mark.anyio


async def test_a_cluster_registered_by_token_becomes_ready(
    env: Env, hub: ApiClient, namespace: str
) -> None:
    member = env.members[0]
    await put_secret(hub, namespace, "m1", {"token": member.token, "ca.crt": member.ca_pem})
    await put_cluster(hub, namespace, "m1", member.server, "m1", {"env": "prod"})
    async with running(env, namespace):
        obj = await wait_cluster(hub, namespace, "m1", ready)
    status = obj["status"]
    assert condition(obj, "Reachable")["status"] == "True"
    assert status["serverVersion"].startswith("v1.")
    assert isinstance(status["latencyMs"], int)
    assert status["lastProbeTime"].endswith("Z")


async def test_a_cluster_registered_by_client_certificate_becomes_ready(
    env: Env, hub: ApiClient, namespace: str
) -> None:
    member = env.members[0]
    if member.client_cert_pem is None or member.client_key_pem is None:
        pytest.skip("fleet.sim authenticates bearer tokens only (no client certificates)")
    data = {"tls.crt": member.client_cert_pem, "tls.key": member.client_key_pem}
    await put_secret(hub, namespace, "m1", {**data, "ca.crt": member.ca_pem})
    await put_cluster(hub, namespace, "m1", member.server, "m1")
    async with running(env, namespace):
        await wait_cluster(hub, namespace, "m1", ready)


def _exec_script(tmp_path: Path, token: str) -> Path:
    script = tmp_path / "credential-helper.sh"
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": token, "expirationTimestamp": "2099-01-01T00:00:00Z"},
    }
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{json.dumps(credential)}\nEOF\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


async def test_a_cluster_registered_by_exec_provider_becomes_ready(
    env: Env, hub: ApiClient, namespace: str, tmp_path: Path
) -> None:
    member = env.members[0]
    exec_spec = {"command": str(_exec_script(tmp_path, member.token)), "timeout": 10}
    await put_secret(hub, namespace, "m1", {"exec": json.dumps(exec_spec), "ca.crt": member.ca_pem})
    await put_cluster(hub, namespace, "m1", member.server, "m1")
    allowed = ExecPolicy(allowed=frozenset({exec_spec["command"]}))
    async with running(env, namespace, exec_policy=allowed):
        await wait_cluster(hub, namespace, "m1", ready)


async def test_a_wrong_token_shows_ready_false_unauthorized(
    env: Env, hub: ApiClient, namespace: str
) -> None:
    member = env.members[0]
    await put_secret(hub, namespace, "m1", {"token": "not-a-token", "ca.crt": member.ca_pem})
    await put_cluster(hub, namespace, "m1", member.server, "m1")
    async with running(env, namespace):
        obj = await wait_cluster(hub, namespace, "m1", reason_is("Unauthorized"))
    assert condition(obj, "Ready")["status"] == "False"
    assert condition(obj, "Reachable")["status"] == "True"


async def test_rotating_the_secret_takes_effect_without_restart(
    env: Env, hub: ApiClient, namespace: str
) -> None:
    member = env.members[0]
    await put_secret(hub, namespace, "m1", {"token": "stale-token", "ca.crt": member.ca_pem})
    await put_cluster(hub, namespace, "m1", member.server, "m1")
    async with running(env, namespace):
        await wait_cluster(hub, namespace, "m1", reason_is("Unauthorized"))
        await put_secret(hub, namespace, "m1", {"token": member.token, "ca.crt": member.ca_pem})
        await wait_cluster(hub, namespace, "m1", ready)


async def test_a_missing_secret_shows_secret_not_found(
    env: Env, hub: ApiClient, namespace: str
) -> None:
    await put_cluster(hub, namespace, "m1", env.members[0].server, "absent")
    async with running(env, namespace):
        await wait_cluster(hub, namespace, "m1", reason_is("SecretNotFound"))


async def test_an_argocd_cluster_secret_is_picked_up(
    env: Env, hub: ApiClient, namespace: str
) -> None:
    import base64

    member = env.members[1]
    config = {
        "bearerToken": member.token,
        "tlsClientConfig": {"caData": base64.b64encode(member.ca_pem).decode()},
    }
    await put_secret(
        hub,
        namespace,
        "argo-m2",
        {"name": "argo-m2", "server": member.server, "config": json.dumps(config)},
        labels={ARGOCD_SECRET_TYPE_LABEL: "cluster", "env": "staging"},
    )
    async with running(env, namespace) as (manager, registry):
        health = await manager.wait_for("argo-m2", lambda h: bool(h.ready), timeout=15)
        assert health.server_version
        assert registry.registered["argo-m2"].labels == {"env": "staging"}
        assert registry.registered["argo-m2"].source == "ArgoCDSecret"


async def test_deleting_a_cluster_removes_its_client(
    env: Env, hub: ApiClient, namespace: str
) -> None:
    from fleet.kube import ClusterNotRegistered, request_json

    member = env.members[0]
    await put_secret(hub, namespace, "m1", {"token": member.token, "ca.crt": member.ca_pem})
    await put_cluster(hub, namespace, "m1", member.server, "m1")
    async with running(env, namespace) as (manager, _):
        await manager.wait_for("m1", lambda h: bool(h.ready), timeout=15)
        api = manager.client("m1")
        path = f"/apis/fleet.gitops.dev/v1alpha1/namespaces/{namespace}/clusters/m1"
        await request_json(hub, "DELETE", path)
        import anyio

        with anyio.fail_after(10):
            while "m1" in manager:
                await anyio.sleep(0.05)
        assert api.rest_client.pool_manager.closed
        with pytest.raises(ClusterNotRegistered):
            manager.client("m1")


async def test_a_server_nobody_listens_on_shows_reachable_false_connection_refused(
    env: Env, hub: ApiClient, namespace: str
) -> None:
    import socket

    with socket.socket() as sock:  # a loopback port that was free a moment ago
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    member = env.members[0]
    await put_secret(hub, namespace, "m1", {"token": member.token, "ca.crt": member.ca_pem})
    await put_cluster(hub, namespace, "m1", f"https://127.0.0.1:{port}", "m1")
    async with running(env, namespace):
        obj = await wait_cluster(hub, namespace, "m1", reason_is("ConnectionRefused", "Reachable"))
    assert condition(obj, "Reachable")["status"] == "False"
    assert condition(obj, "Ready")["reason"] == "ConnectionRefused"


async def test_an_unreadable_ca_shows_invalid_credentials(
    env: Env, hub: ApiClient, namespace: str
) -> None:
    member = env.members[0]
    await put_secret(hub, namespace, "m1", {"token": member.token, "ca.crt": b"not a PEM"})
    await put_cluster(hub, namespace, "m1", member.server, "m1")
    async with running(env, namespace):
        obj = await wait_cluster(hub, namespace, "m1", reason_is("InvalidCredentials"))
    assert condition(obj, "Reachable")["status"] == "Unknown"


async def test_an_exec_provider_returning_a_client_certificate_becomes_ready(
    env: Env, hub: ApiClient, namespace: str, tmp_path: Path
) -> None:
    member = env.members[0]
    if member.client_cert_pem is None or member.client_key_pem is None:
        pytest.skip("fleet.sim authenticates bearer tokens only (no client certificates)")
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {
            "clientCertificateData": member.client_cert_pem.decode(),
            "clientKeyData": member.client_key_pem.decode(),
        },
    }
    document = tmp_path / "credential.json"
    document.write_text(json.dumps(credential))
    exec_spec = {"command": "cat", "args": [str(document)]}
    await put_secret(hub, namespace, "m1", {"exec": json.dumps(exec_spec), "ca.crt": member.ca_pem})
    await put_cluster(hub, namespace, "m1", member.server, "m1")
    async with running(env, namespace, exec_policy=ExecPolicy(allowed=frozenset({"cat"}))):
        await wait_cluster(hub, namespace, "m1", ready)
