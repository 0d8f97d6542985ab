"""Sync engine benchmark: drift-correction latency and one 500-object Application.

Prints one JSON document with, per backend (fleet.sim always; the real kube-apiserver of the e2e
harness when `.cache/bin/kube-apiserver` exists):
- drift correction: a ConfigMap managed with selfHeal is edited 100 times by another field
  manager (merge patch, manager `kubectl-edit`); latency = edit answered -> the revert observed
  (GET polled every 5 ms by the benchmark, not by the engine), median and p99;
- one Application of 500 objects (480 ConfigMaps + 20 Deployments, settled by the status agent):
  first sync (includes waiting for the Deployments to be Healthy), no-op resync (writes counted),
  one-object change.

fleet.sim runs in a background thread of this process (shares the GIL with the engine), so its
figures are pessimistic. Not a test: nothing fails on speed.
`.venv/bin/python bench/sync_bench.py [--edits 100] [--objects 500]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from kubernetes_asyncio import client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fleet.kube import request_json  # noqa: E402
from fleet.sync.engine import SyncEngine  # noqa: E402
from fleet.sync.selfheal import SelfHealer  # noqa: E402
from fleet.sync.spec import AppSpec  # noqa: E402
from fleet.sync.tracking import AppRef  # noqa: E402

BIN_DIR = ROOT / ".cache" / "bin"


@dataclass
class Target:
    name: str
    server: str
    ca_file: Path
    token: str


def make_client(target: Target) -> client.ApiClient:
    config = client.Configuration()
    config.host = target.server
    config.ssl_ca_cert = str(target.ca_file)
    config.api_key = {"BearerToken": target.token}
    config.api_key_prefix = {"BearerToken": "Bearer"}
    return client.ApiClient(config)


def spec(namespace: str, *, self_heal: bool) -> AppSpec:
    return AppSpec(
        app=AppRef("argocd", f"bench-{namespace}"),
        namespace=namespace,
        automated=True,
        prune=True,
        self_heal=self_heal,
        sync_options=frozenset({"CreateNamespace=true"}),
    )


def configmap(name: str, value: str = "v1") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": {"key": value, "payload": "x" * 512}}  # fmt: skip


def deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}}},
    }  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def drift(target: Target, edits: int) -> dict[str, Any]:
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    latencies: list[float] = []
    async with make_client(target) as api, make_client(target) as editor:
        engine = SyncEngine(api, spec(namespace, self_heal=True), cluster=target.name)
        op = await engine.sync([configmap("drift")], "r1")
        assert op.phase == "Succeeded", op.message
        path = f"/api/v1/namespaces/{namespace}/configmaps/drift"
        healer = SelfHealer(engine)
        async with anyio.create_task_group() as tg:
            await tg.start(healer.run)
            await anyio.sleep(0.3)
            for n in range(edits):
                await request_json(
                    editor, "PATCH", path, body={"data": {"key": f"edit-{n}"}},
                    query={"fieldManager": "kubectl-edit"},
                    content_type="application/merge-patch+json",
                )  # fmt: skip
                began = time.perf_counter()
                with anyio.fail_after(30):
                    while True:
                        live = await request_json(editor, "GET", path)
                        if live["data"]["key"] == "v1":
                            break
                        await anyio.sleep(0.005)
                latencies.append(time.perf_counter() - began)
            tg.cancel_scope.cancel()
        await request_json(api, "DELETE", f"/api/v1/namespaces/{namespace}")
    return {
        "edits": edits,
        "corrections": healer.corrections,
        "median_s": round(statistics.median(latencies), 4),
        "p99_s": round(percentile(latencies, 0.99), 4),
        "max_s": round(max(latencies), 4),
    }


async def big_app(target: Target, objects: int) -> dict[str, Any]:
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    deployments = max(1, objects // 25)
    manifests = [configmap(f"cm-{i}") for i in range(objects - deployments)]
    manifests += [deployment(f"web-{i}") for i in range(deployments)]
    async with make_client(target) as api:
        engine = SyncEngine(api, spec(namespace, self_heal=False), cluster=target.name,
                            concurrency=32, health_interval=0.1)  # fmt: skip
        began = time.perf_counter()
        op = await engine.sync(manifests, "r1")
        first = time.perf_counter() - began
        assert op.phase == "Succeeded", op.message
        writes = engine.writes
        began = time.perf_counter()
        op = await engine.sync(manifests, "r1")
        noop = time.perf_counter() - began
        noop_writes = engine.writes - writes
        manifests[0] = configmap("cm-0", "v2")
        writes = engine.writes
        began = time.perf_counter()
        op = await engine.sync(manifests, "r2")
        one = time.perf_counter() - began
        one_writes = engine.writes - writes
        await request_json(api, "DELETE", f"/api/v1/namespaces/{namespace}")
    return {
        "objects": objects,
        "configmaps": objects - deployments,
        "deployments": deployments,
        "first_sync_s": round(first, 3),
        "noop_resync_s": round(noop, 3),
        "noop_resync_writes": noop_writes,
        "one_change_sync_s": round(one, 3),
        "one_change_writes": one_writes,
    }


async def measure(target: Target, edits: int, objects: int) -> dict[str, Any]:
    return {"drift_correction": await drift(target, edits),
            "application": await big_app(target, objects)}  # fmt: skip


@contextmanager
def sim_target() -> Iterator[Target]:
    from anyio.from_thread import start_blocking_portal

    from fleet.sim import SimServer

    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(SimServer(clusters=1, status_delay=0.2)) as sim,
    ):
        c = sim.clusters["cluster-1"]
        yield Target("sim", c.server, c.ca_file, c.token)


async def run_real(edits: int, objects: int) -> dict[str, Any]:
    from e2e.realapi import RealClusters
    from e2e.realapi.status_agent import StatusAgent

    with tempfile.TemporaryDirectory(prefix="fleet-sync-bench-") as tmp:
        harness = RealClusters(0, Path(tmp), BIN_DIR)
        hub = (await anyio.to_thread.run_sync(harness.start))[0]
        try:
            assert hub.token is not None
            target = Target("real", hub.server, hub.ca_file, hub.token)
            async with make_client(target) as agent_api, anyio.create_task_group() as tg:
                await tg.start(StatusAgent(agent_api, delay=0.2).run)
                result = await measure(target, edits, objects)
                tg.cancel_scope.cancel()
            return result
        finally:
            await anyio.to_thread.run_sync(harness.stop)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--objects", type=int, default=500)
    args = parser.parse_args()
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    report: dict[str, Any] = {}
    with sim_target() as target:
        report["sim"] = anyio.run(measure, target, args.edits, args.objects)
    if (BIN_DIR / "kube-apiserver").exists():
        report["real_kube_apiserver"] = anyio.run(run_real, args.edits, args.objects)
    else:
        report["real_kube_apiserver"] = f"skipped: no kube-apiserver in {BIN_DIR}"
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
