"""Measurements for fleet.sim: start time and RSS with many clusters, SSA rate, watch latency.

Run: `.venv/bin/python -m tests.sim.bench_sim [--clusters 1000]`. The server runs in its own
process (`python -m fleet.sim.cli serve`) so its RSS and CPU are not mixed with the client's.
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


async def main(clusters: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        start = time.monotonic()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fleet.sim.cli",
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
            ready = time.monotonic() - start
            print(
                f"clusters={clusters} process start to ready (incl. interpreter, imports, "
                f"{clusters} kubeconfig files): {ready:.2f}s"
            )
            print(f"RSS idle: {_rss_mib(process.pid):.1f} MiB")
            t = time.monotonic()
            await _touch_all(directory, clusters)
            print(
                f"first request to every cluster: {time.monotonic() - t:.2f}s, "
                f"RSS with all clusters live: {_rss_mib(process.pid):.1f} MiB"
            )
            took = await _populate(directory, clusters, 10)
            await asyncio.sleep(1)  # let the status agent settle the workloads
            print(
                f"{clusters * 10} Deployments applied across the clusters in {took:.1f}s "
                f"({clusters * 10 / took:.0f}/s); RSS: {_rss_mib(process.pid):.1f} MiB"
            )
            server, token, context = _cluster(directory / "cluster-1.kubeconfig")
            rate = await _ssa_rate(server, token, context, 5.0)
            print(f"SSA (apply-patch+yaml, 8 in flight, 50 deployments): {rate:.0f} req/s")
            lat = await _watch_latency(server, token, context, 200)
            lat.sort()
            print(
                f"watch latency (POST sent -> event read), n={len(lat)}: "
                f"median {statistics.median(lat) * 1000:.2f} ms, "
                f"p99 {lat[int(len(lat) * 0.99) - 1] * 1000:.2f} ms"
            )
            print(f"RSS at end: {_rss_mib(process.pid):.1f} MiB")
        finally:
            process.terminate()
            process.wait(timeout=20)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=1000)
    asyncio.run(main(parser.parse_args().clusters))
