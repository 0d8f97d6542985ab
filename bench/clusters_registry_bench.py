"""Cluster registry benchmark: register N fleet.sim clusters on a hub and probe them all.

Prints one JSON document: time from starting the manager + hub registry to every cluster Ready
in memory and to every `Cluster.status` on the hub saying Ready=True, probes done, and this
process's RSS (the manager's: the simulator runs in its own process) before and after, with
the per-cluster cost. Not a test: nothing fails on speed.

`.venv/bin/python bench/clusters_registry_bench.py [--clusters 1000]`
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fleet.clusters.manager import ClusterManager, ManagerSettings  # noqa: E402
from fleet.clusters.registry import HubRegistry  # noqa: E402
from fleet.kube import Conflict, Credentials, build_api_client, request_json  # noqa: E402
from fleet.logging import configure_logging  # noqa: E402

NS = NAMESPACE = "fleet-system"


def _proc_status(pid: int | str = "self") -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def _start_sim(clusters: int, directory: Path) -> subprocess.Popen[bytes]:
    code = (
        "import sys; from pathlib import Path; from fleet.sim.cli import serve; "
        f"serve({clusters}, None, Path({str(directory)!r}))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    assert process.stderr is not None
    for raw in process.stderr:
        if b"fleet-sim: serving" in raw:
            return process
    raise RuntimeError("fleet sim serve exited before it was ready")


def _kubeconfig(path: Path) -> tuple[str, str, bytes]:
    config = yaml.safe_load(path.read_text())
    cluster = config["clusters"][0]["cluster"]
    token = config["users"][0]["user"]["token"]
    return cluster["server"], token, base64.b64decode(cluster["certificate-authority-data"])


async def _register(hub: Any, directory: Path, names: list[str]) -> None:
    crd = yaml.safe_load((ROOT / "crds" / "cluster.yaml").read_text())
    await request_json(
        hub, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body=crd
    )
    with contextlib.suppress(Conflict):
        await request_json(
            hub, "POST", "/api/v1/namespaces", body={"metadata": {"name": NAMESPACE}}
        )
    limiter = anyio.CapacityLimiter(32)

    async def one(name: str) -> None:
        server, token, ca = _kubeconfig(directory / f"{name}.kubeconfig")
        async with limiter:
            data = {"token": token.encode(), "ca.crt": ca}
            await request_json(
                hub,
                "POST",
                f"/api/v1/namespaces/{NAMESPACE}/secrets",
                body={
                    "metadata": {"name": name},
                    "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
                },
            )
            await request_json(
                hub,
                "POST",
                f"/apis/fleet.gitops.dev/v1alpha1/namespaces/{NAMESPACE}/clusters",
                body={
                    "apiVersion": "fleet.gitops.dev/v1alpha1",
                    "kind": "Cluster",
                    "metadata": {"name": name},
                    "spec": {"server": server, "secretRef": {"name": name}},
                },
            )

    async with anyio.create_task_group() as tg:
        for name in names:
            tg.start_soon(one, name)


async def _statuses_ready(hub: Any) -> int:
    listing = await request_json(
        hub, "GET", f"/apis/fleet.gitops.dev/v1alpha1/namespaces/{NAMESPACE}/clusters", timeout=60
    )
    count = 0
    for obj in listing["items"]:
        for cond in (obj.get("status") or {}).get("conditions") or []:
            if cond["type"] == "Ready" and cond["status"] == "True":
                count += 1
    return count


async def bench(clusters: int, directory: Path) -> dict[str, Any]:
    names = [f"cluster-{i}" for i in range(2, clusters + 2)]
    server, token, ca = _kubeconfig(directory / "cluster-1.kubeconfig")
    async with build_api_client(Credentials(server=server, token=token, ca_pem=ca)) as hub:
        began = time.perf_counter()
        await _register(hub, directory, names)
        setup_s = time.perf_counter() - began
        rss_before = _proc_status()
        settings = ManagerSettings(probe_interval=60.0, pool_limit=4, probe_timeout=10.0)
        registry = HubRegistry(hub, NAMESPACE)
        started = time.perf_counter()
        async with ClusterManager(settings, registry.write_status) as manager:
            registry.attach(manager)
            async with anyio.create_task_group() as tg:
                tg.start_soon(registry.run)
                await registry.synced.wait()
                registered_s = time.perf_counter() - started
                while not all(n in manager and manager.health(n).ready for n in names):
                    await anyio.sleep(0.05)
                ready_s = time.perf_counter() - started
                rss_ready = _proc_status()
                while await _statuses_ready(hub) < len(names):
                    await anyio.sleep(0.2)
                status_s = time.perf_counter() - started
                latencies = sorted(manager.health(n).latency_ms or 0 for n in names)
                await anyio.sleep(settings.keepalive + 1.5)
                rss_idle = _proc_status()
                open_fds = len(os.listdir("/proc/self/fd"))
                tg.cancel_scope.cancel()
        rss_after = _proc_status()
    return {
        "clusters": clusters,
        "hub_setup_seconds": round(setup_s, 2),
        "registered_seconds": round(registered_s, 2),
        "all_ready_in_memory_seconds": round(ready_s, 2),
        "all_status_ready_on_hub_seconds": round(status_s, 2),
        "probe_latency_ms_p50": latencies[len(latencies) // 2],
        "probe_latency_ms_p99": latencies[int(len(latencies) * 0.99) - 1],
        "manager_rss_mib_before": round(rss_before["VmRSS"], 1),
        "manager_rss_mib_all_ready": round(rss_ready["VmRSS"], 1),
        "manager_rss_mib_idle": round(rss_idle["VmRSS"], 1),
        "manager_open_fds_idle": open_fds,
        "manager_rss_mib_peak": round(rss_after["VmHWM"], 1),
        "manager_rss_kib_per_cluster_idle": round(
            (rss_idle["VmRSS"] - rss_before["VmRSS"]) * 1024 / clusters, 1
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clusters", type=int, default=1000)
    args = parser.parse_args()
    configure_logging("warning")
    with tempfile.TemporaryDirectory(prefix="fleet-registry-bench-") as tmp:
        directory = Path(tmp)
        sim = _start_sim(args.clusters + 1, directory)
        try:
            result = asyncio.run(bench(args.clusters, directory))
            result["sim_rss_mib"] = round(_proc_status(sim.pid)["VmRSS"], 1)
        finally:
            sim.terminate()
            sim.wait(timeout=20)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
