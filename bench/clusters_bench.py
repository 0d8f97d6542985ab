"""Test clusters benchmark: fleet.sim at 1,000 clusters, and fleet.sim beside a real kube-apiserver.

Prints one JSON document:
- one `fleet sim serve` process with N clusters: start-to-ready time, RSS idle, RSS once every
  cluster was used, RSS after 10 Deployments applied to each;
- side by side in this run, against one sim cluster and one real kube-apiserver (the e2e harness,
  with its etcd): server-side apply requests per second (8 in flight, 50 Deployments re-applied
  with force) and watch delivery latency (ConfigMap POST sent -> its watch event read).

The servers run in their own processes, so their RSS and CPU are not mixed with the client's.
Not a test: nothing fails on speed. `make bench`, or `.venv/bin/python bench/clusters_bench.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cluster(kubeconfig: Path) -> tuple[str, str, ssl.SSLContext]:
    config = yaml.safe_load(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
    return (
        cluster["server"],
        config["users"][0]["user"]["token"],
        ssl.create_default_context(cadata=ca),
    )


def _deployment(i: int) -> bytes:
    doc: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"web-{i % 50}", "labels": {"app": "web", "rev": str(i)}},
        "spec": {
            "replicas": 1 + i % 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": f"nginx:{i}", "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        },
    }
    return json.dumps(doc).encode()


async def _touch_all(directory: Path, clusters: int) -> None:
    server, _, context = _cluster(directory / "cluster-1.kubeconfig")
    base = server.rsplit("/clusters/", 1)[0]
    tokens = {}
    for i in range(1, clusters + 1):
        text = (directory / f"cluster-{i}.kubeconfig").read_text()
        tokens[i] = text.split("token: ", 1)[1].split("\n", 1)[0].strip('"')
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context, limit=16)) as s:
        sem = asyncio.Semaphore(16)

        async def one(i: int) -> None:
            headers = {"Authorization": f"Bearer {tokens[i]}"}
            async with (
                sem,
                s.get(f"{base}/clusters/cluster-{i}/api/v1/namespaces", headers=headers) as r,
            ):
                assert r.status == 200, await r.text()

        await asyncio.gather(*(one(i) for i in range(1, clusters + 1)))


async def _populate(directory: Path, clusters: int, per_cluster: int) -> float:
    """Apply `per_cluster` Deployments to every cluster; returns the seconds it took."""
    server, _, context = _cluster(directory / "cluster-1.kubeconfig")
    base = server.rsplit("/clusters/", 1)[0]
    tokens = {}
    for i in range(1, clusters + 1):
        text = (directory / f"cluster-{i}.kubeconfig").read_text()
        tokens[i] = text.split("token: ", 1)[1].split("\n", 1)[0].strip('"')
    start = time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context, limit=16)) as s:
        sem = asyncio.Semaphore(16)

        async def one(i: int, j: int) -> None:
            headers = {
                "Authorization": f"Bearer {tokens[i]}",
                "Content-Type": "application/apply-patch+yaml",
            }
            url = (
                f"{base}/clusters/cluster-{i}/apis/apps/v1/namespaces/default/deployments/"
                f"web-{j}?fieldManager=bench"
            )
            async with sem, s.patch(url, data=_deployment(j), headers=headers) as r:
                assert r.status in (200, 201), await r.text()

        await asyncio.gather(
            *(one(i, j) for i in range(1, clusters + 1) for j in range(per_cluster))
        )
    return time.monotonic() - start


async def _ssa_rate(server: str, token: str, context: ssl.SSLContext, seconds: float) -> float:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/apply-patch+yaml"}
    path = f"{server}/apis/apps/v1/namespaces/default/deployments"
    done = 0
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as s:

        async def worker(start: int) -> None:
            nonlocal done
            i = start
            while time.monotonic() < deadline:
                async with s.patch(
                    f"{path}/web-{i % 50}?fieldManager=bench&force=true",
                    data=_deployment(i),
                    headers=headers,
                ) as r:
                    assert r.status in (200, 201), await r.text()
                    await r.read()
                done += 1
                i += 8

        start = time.monotonic()
        await asyncio.gather(*(worker(k) for k in range(8)))
        return done / (time.monotonic() - start)


async def _watch_latency(server: str, token: str, context: ssl.SSLContext, n: int) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    path = f"{server}/api/v1/namespaces/default/configmaps"
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as s:
        async with s.get(path, headers=headers) as r:
            rv = (await r.json())["metadata"]["resourceVersion"]
        async with s.get(
            path, params={"watch": "1", "resourceVersion": rv}, headers=headers
        ) as stream:
            for i in range(n):
                sent = time.monotonic()
                body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"l{i}"}}
                async with s.post(path, json=body, headers=headers) as r:
                    assert r.status == 201
                while True:
                    event = json.loads(await stream.content.readline())
                    if event["object"]["metadata"]["name"] == f"l{i}":
                        latencies.append(time.monotonic() - sent)
                        break
    return latencies


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * fraction) - 1)]


async def _side(server: str, token: str, context: ssl.SSLContext) -> dict[str, Any]:
    rate = await _ssa_rate(server, token, context, 5.0)
    latencies = await _watch_latency(server, token, context, 200)
    return {
        "ssa_requests_per_second": round(rate, 1),
        "watch_latency_ms": {
            "n": len(latencies),
            "median": round(statistics.median(latencies) * 1000, 2),
            "p99": round(_percentile(latencies, 0.99) * 1000, 2),
        },
    }


async def _real_side(bin_dir: Path) -> dict[str, Any]:
    from e2e.realapi import RealClusters

    with tempfile.TemporaryDirectory() as tmp:
        harness = RealClusters(0, Path(tmp), bin_dir)
        try:
            hub = (await asyncio.to_thread(harness.start))[0]
            assert hub.token is not None
            context = ssl.create_default_context(cafile=str(hub.ca_file))
            result = await _side(hub.server, hub.token, context)
            result["rss_mib"] = {k: round(v / 2**20, 1) for k, v in harness.rss_bytes().items()}
            result["start_seconds"] = round(harness.startup_seconds or 0.0, 2)
            return result
        finally:
            await asyncio.to_thread(harness.stop)


async def main(clusters: int, bin_dir: Path) -> dict[str, Any]:
    report: dict[str, Any] = {"benchmark": "test clusters", "machine_cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        start = time.monotonic()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fleet.cli",
                "sim",
                "serve",
                "--clusters",
                str(clusters),
                "--kubeconfig-dir",
                str(directory),
            ],
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert process.stderr is not None
        try:
            while "serving" not in process.stderr.readline():
                pass
            sim: dict[str, Any] = {
                "clusters": clusters,
                "start_to_ready_seconds": round(time.monotonic() - start, 2),
                "rss_idle_mib": round(_rss_mib(process.pid), 1),
            }
            t = time.monotonic()
            await _touch_all(directory, clusters)
            sim["first_request_to_every_cluster_seconds"] = round(time.monotonic() - t, 2)
            sim["rss_all_clusters_used_mib"] = round(_rss_mib(process.pid), 1)
            took = await _populate(directory, clusters, 10)
            await asyncio.sleep(1)  # let the status agent settle the workloads
            sim["deployments_applied"] = clusters * 10
            sim["apply_all_seconds"] = round(took, 1)
            sim["rss_after_apply_mib"] = round(_rss_mib(process.pid), 1)
            server, token, context = _cluster(directory / "cluster-1.kubeconfig")
            report["sim_process"] = sim
            report["one_sim_cluster"] = await _side(server, token, context)
        finally:
            process.terminate()
            process.wait(timeout=20)
    if (bin_dir / "kube-apiserver").exists():
        report["one_real_kube_apiserver"] = await _real_side(bin_dir)
    else:
        report["one_real_kube_apiserver"] = f"skipped: no kube-apiserver in {bin_dir}"
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--bin-dir", type=Path, default=Path(".cache/bin"))
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.clusters, args.bin_dir)), indent=2))
