"""The real-apiserver harness: servers, credentials, status agent, cleanup.

One hub + two members are shared by the module (starting them is the slow part); the lifecycle
tests start their own single-cluster harness so that stopping it proves nothing is left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from kubernetes_asyncio import client as _client
from kubernetes_asyncio import config as _config
from kubernetes_asyncio.client.exceptions import ApiException

from e2e.realapi import RealApiError, RealCluster, RealClusters
from e2e.realapi.cluster import REPO_ROOT
from e2e.realapi.status_agent import StatusAgent, api_client
from tests.e2e_harness.argo_health import health
from tests.e2e_harness.conftest import require_binaries
from tests.e2e_harness.manifests import workload

k8s: Any = _client
kconfig: Any = _config

pytestmark = pytest.mark.realapi

TIMEOUT = 10  # seconds, every API call


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by a parent that is not us) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _admin(cluster: RealCluster) -> Any:
    return api_client(cluster.server, cluster.ca_file, cluster.token or "")


async def _eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> float:
    """Poll `check` every 0.1 s; return the seconds it took, fail after `timeout`."""
    began = time.monotonic()
    with anyio.move_on_after(timeout):
        while not await check():
            await anyio.sleep(0.1)
        return time.monotonic() - began
    pytest.fail(f"{what}: not within {timeout} s")


# -- servers and credentials ----------------------------------------------------------------------


def test_hub_and_members_are_named_and_distinct(real_clusters: RealClusters) -> None:
    clusters = real_clusters.clusters
    assert [c.name for c in clusters] == ["hub", "member-1", "member-2"]
    assert len({c.server for c in clusters}) == 3
    assert len({c.ca_file.read_bytes() for c in clusters}) == 3  # one CA per cluster
    assert all(c.kubeconfig.stat().st_mode & 0o077 == 0 for c in clusters)


@pytest.mark.anyio
async def test_each_kubeconfig_works_with_kubernetes_asyncio(
    real_clusters: RealClusters, tmp_path: Path
) -> None:
    for cluster in real_clusters.clusters:
        api = await kconfig.new_client_from_config(
            config_file=str(cluster.kubeconfig), persist_config=False, temp_file_path=str(tmp_path)
        )
        async with api:
            namespaces = await k8s.CoreV1Api(api).list_namespace(_request_timeout=TIMEOUT)
            names = {ns.metadata.name for ns in namespaces.items}
            assert {"default", "kube-system", "kube-public"} <= names
            version = await k8s.VersionApi(api).get_code(_request_timeout=TIMEOUT)
            assert version.git_version.startswith("v1.")


@pytest.mark.anyio
async def test_clusters_do_not_share_storage(real_clusters: RealClusters) -> None:
    hub, member, _ = real_clusters.clusters
    body = {"metadata": {"name": "only-on-hub"}, "data": {"k": "v"}}
    async with _admin(hub) as api:
        await k8s.CoreV1Api(api).create_namespaced_config_map(
            "default", body, _request_timeout=TIMEOUT
        )
    async with _admin(member) as api:
        with pytest.raises(ApiException) as missing:
            await k8s.CoreV1Api(api).read_namespaced_config_map(
                "only-on-hub", "default", _request_timeout=TIMEOUT
            )
    assert missing.value.status == 404


@pytest.mark.anyio
async def test_readonly_token_reads_but_gets_403_on_create(real_clusters: RealClusters) -> None:
    for cluster in real_clusters.clusters:
        async with api_client(cluster.server, cluster.ca_file, cluster.readonly_token) as api:
            core = k8s.CoreV1Api(api)
            await core.list_namespaced_config_map("default", _request_timeout=TIMEOUT)
            with pytest.raises(ApiException) as denied:
                await core.create_namespaced_config_map(
                    "default", {"metadata": {"name": "denied"}}, _request_timeout=TIMEOUT
                )
            assert denied.value.status == 403


@pytest.mark.anyio
async def test_a_token_is_only_good_for_its_own_cluster(real_clusters: RealClusters) -> None:
    hub, member, _ = real_clusters.clusters
    for token in (hub.token or "", hub.readonly_token):
        async with api_client(member.server, member.ca_file, token) as api:
            with pytest.raises(ApiException) as rejected:
                await k8s.CoreV1Api(api).list_namespace(_request_timeout=TIMEOUT)
            assert rejected.value.status == 401


@pytest.mark.anyio
async def test_the_wrong_ca_fails_tls(real_clusters: RealClusters) -> None:
    hub, member, _ = real_clusters.clusters
    async with api_client(member.server, hub.ca_file, member.token or "") as api:
        with pytest.raises(Exception, match=r"(?i)certificate"):
            await k8s.CoreV1Api(api).list_namespace(_request_timeout=TIMEOUT)


# -- status agent ---------------------------------------------------------------------------------

KINDS = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]
FAILING_HEALTH = {
    "Deployment": "Degraded",
    "ReplicaSet": "Degraded",
    "Job": "Degraded",
    "StatefulSet": "Progressing",
    "DaemonSet": "Progressing",
}


async def _create(api: Any, namespace: str, obj: dict[str, Any]) -> None:
    apps, batch = k8s.AppsV1Api(api), k8s.BatchV1Api(api)
    create = {
        "Deployment": apps.create_namespaced_deployment,
        "StatefulSet": apps.create_namespaced_stateful_set,
        "DaemonSet": apps.create_namespaced_daemon_set,
        "ReplicaSet": apps.create_namespaced_replica_set,
        "Job": batch.create_namespaced_job,
    }[obj["kind"]]
    await create(namespace, obj, _request_timeout=TIMEOUT)


async def _read(api: Any, kind: str, namespace: str, name: str) -> dict[str, Any]:
    apps, batch = k8s.AppsV1Api(api), k8s.BatchV1Api(api)
    read = {
        "Deployment": apps.read_namespaced_deployment,
        "StatefulSet": apps.read_namespaced_stateful_set,
        "DaemonSet": apps.read_namespaced_daemon_set,
        "ReplicaSet": apps.read_namespaced_replica_set,
        "Job": batch.read_namespaced_job,
    }[kind]
    obj: dict[str, Any] = api.sanitize_for_serialization(
        await read(name, namespace, _request_timeout=TIMEOUT)
    )
    obj["kind"] = kind
    return obj


async def _namespace(api: Any, name: str) -> None:
    await k8s.CoreV1Api(api).create_namespace(
        {"metadata": {"name": name}}, _request_timeout=TIMEOUT
    )


@pytest.mark.anyio
async def test_agent_makes_a_deployment_available_and_keeps_a_failing_one_degraded(
    real_clusters: RealClusters,
) -> None:
    member = real_clusters.clusters[1]
    async with _admin(member) as api:
        await _namespace(api, "agent-deploy")
        agent = StatusAgent(api, delay=0.5)
        async with anyio.create_task_group() as tg:
            await tg.start(agent.run)
            await _create(api, "agent-deploy", workload("Deployment", "web", replicas=3))
            await _create(api, "agent-deploy", workload("Deployment", "broken", fail=True))

            async def web_available() -> bool:
                obj = await _read(api, "Deployment", "agent-deploy", "web")
                conditions = {c["type"]: c["status"] for c in obj["status"].get("conditions") or []}
                return conditions.get("Available") == "True" and health(obj) == "Healthy"

            took = await _eventually(web_available, 5.0, "Deployment web Available")
            assert took >= 0.4  # the configured delay is honoured: Progressing first
            web = await _read(api, "Deployment", "agent-deploy", "web")
            assert web["status"]["readyReplicas"] == 3

            async def broken_degraded() -> bool:
                obj = await _read(api, "Deployment", "agent-deploy", "broken")
                return health(obj) == "Degraded"

            await _eventually(broken_degraded, 5.0, "Deployment broken Degraded")
            writes = agent.writes
            await anyio.sleep(2.0)  # nothing flips back, and no write loop on our own events
            assert await broken_degraded()
            assert await web_available()
            assert agent.writes == writes

            # A spec change is a new generation: the agent observes it and settles it again.
            await k8s.AppsV1Api(api).patch_namespaced_deployment(
                "web", "agent-deploy", {"spec": {"replicas": 5}}, _request_timeout=TIMEOUT
            )

            async def web_rescaled() -> bool:
                obj = await _read(api, "Deployment", "agent-deploy", "web")
                status = obj["status"]
                return bool(
                    status.get("observedGeneration") == obj["metadata"]["generation"] == 2
                    and status.get("availableReplicas") == 5
                )

            await _eventually(web_rescaled, 5.0, "Deployment web rescaled to 5")
            tg.cancel_scope.cancel()
        assert agent.errors == 0


@pytest.mark.anyio
async def test_agent_statuses_pass_validation_for_every_kind(real_clusters: RealClusters) -> None:
    """The API server validates status writes (Jobs strictly): every shape must be accepted."""
    member = real_clusters.clusters[2]
    async with _admin(member) as api:
        await _namespace(api, "agent-kinds")
        agent = StatusAgent(api, delay=0.1, namespace="agent-kinds", failing={"job-crash"})
        async with anyio.create_task_group() as tg:
            await tg.start(agent.run)
            wanted: dict[tuple[str, str], str] = {}
            for kind in KINDS:
                name = f"{kind.lower()}-ok"
                await _create(api, "agent-kinds", workload(kind, name))
                wanted[(kind, name)] = "Healthy"
                if kind != "Job":
                    name = f"{kind.lower()}-bad"
                    await _create(api, "agent-kinds", workload(kind, name, fail=True))
                    wanted[(kind, name)] = FAILING_HEALTH[kind]
            await _create(api, "agent-kinds", workload("Job", "job-crash"))  # failing by name
            wanted[("Job", "job-crash")] = "Degraded"

            async def all_settled() -> bool:
                for (kind, name), expected in wanted.items():
                    obj = await _read(api, kind, "agent-kinds", name)
                    if not obj.get("status") or health(obj) != expected:
                        return False
                    if kind != "Job" and obj["status"].get("observedGeneration") != 1:
                        return False
                return True

            await _eventually(all_settled, 10.0, "every workload settled")
            assert agent.writes == len(wanted)
            tg.cancel_scope.cancel()
        assert agent.errors == 0


# -- lifecycle ------------------------------------------------------------------------------------


def test_stop_leaves_no_process_and_no_secret(tmp_path: Path) -> None:
    bin_dir = require_binaries()
    with RealClusters(0, tmp_path, bin_dir) as harness:
        assert [c.name for c in harness.clusters] == ["hub"]
        pids = harness.pids()
        root = harness.root
        assert len(pids) == 3 and all(_alive(p) for p in pids)  # apiserver, controllers, etcd
        rss = harness.rss_bytes()
        assert set(rss) == {"hub", "hub kube-controller-manager", "etcd"}
        assert all(v > 0 for v in rss.values())
    assert not any(_alive(p) for p in pids)
    assert root is not None
    assert sorted(p.name for p in root.iterdir()) == ["logs"]  # keys, tokens, data: gone
    harness.stop()  # idempotent


def test_a_server_that_cannot_start_raises_with_its_log(tmp_path: Path) -> None:
    bin_dir = require_binaries()
    harness = RealClusters(0, tmp_path, bin_dir, extra_apiserver_args=["--no-such-flag"])
    with pytest.raises(RealApiError, match="no-such-flag"):
        harness.start()
    assert harness.pids() == []
    assert harness.root is not None and [p.name for p in harness.root.iterdir()] == ["logs"]


def test_cli_serves_until_sigterm_then_cleans_up(tmp_path: Path) -> None:
    bin_dir = require_binaries()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "e2e.realapi",
            "up",
            "--members",
            "0",
            "--dir",
            str(tmp_path),
            "--bin-dir",
            str(bin_dir),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        manifest = tmp_path / "clusters.json"
        deadline = time.monotonic() + 120
        while not manifest.exists():
            assert proc.poll() is None, proc.communicate(timeout=10)
            assert time.monotonic() < deadline, "CLI did not report ready in 120 s"
            time.sleep(0.2)
        time.sleep(0.5)  # the manifest is complete once the "ready" line is printed
        (hub,) = json.loads(manifest.read_text())
        assert Path(hub["kubeconfig"]).exists()
        pids = [int(p) for p in _group_pids(proc.pid)]
        assert pids, "no server processes found"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "hub https://127.0.0.1:" in out
        assert not any(_alive(p) for p in pids)
        assert not manifest.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def _group_pids(parent: int) -> list[str]:
    """Children of `parent` (the servers run in their own process groups, so not by group)."""
    children = Path(f"/proc/{parent}/task/{parent}/children")
    return children.read_text().split() if children.exists() else []
