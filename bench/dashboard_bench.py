"""Dashboard benchmark: 10,000 Applications, pages and live-update latency.

Setup: a fleet.sim hub (in a background thread of this process, sharing the GIL) holds N
Applications (default 10,000) over 100 cluster names and 20 ApplicationSets; about 6 % are given
a problem status (OutOfSync, Degraded, a condition). The dashboard runs as `fleet dashboard`
does (fleet.server.dashboard.serve: one hub watch feeding the view-model), in this process's
event loop; the full controller is not run (syncing 10,000 Applications to member clusters would
measure the controller, not the dashboard). Clients are plain HTTP from worker threads.

Figures (milliseconds, median and p95 of `--samples` requests each):
- server: the page's own Server-Timing (query + template render);
- first_byte / full: client-observed time to the response head and to the last byte;
- pages: Applications (first page, problems first), Applications filtered (sync + free text,
  a label), Fleet (100 clusters x 20 ApplicationSets), one Application;
- sse: a status patch answered by the hub -> the `changes` event naming that Application
  read by a client of /dashboard/events (through the hub's watch, the view-model, the
  coalescing interval of 100 ms and the socket).

Targets (issue 16): under 300 ms server time per page; under 1 s from a status change to the
browser. Not a test: nothing fails on speed. `PYTHONPATH=. .venv/bin/python
bench/dashboard_bench.py [--apps 10000] [--samples 30]`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
from anyio.from_thread import start_blocking_portal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fleet.api.crds import install_crds  # noqa: E402
from fleet.api.group import FLEET  # noqa: E402
from fleet.api.resources import APPLICATION  # noqa: E402
from fleet.kube import Credentials, build_api_client, request_json  # noqa: E402
from fleet.server.dashboard.serve import serve  # noqa: E402

CLUSTERS = 100
APPSETS = 20


def application(i: int, namespace: str) -> dict[str, Any]:
    cluster, appset = f"cluster-{i % CLUSTERS:03d}", f"appset-{i % APPSETS:02d}"
    return {
        "apiVersion": APPLICATION.api_version,
        "kind": "Application",
        "metadata": {
            "name": f"app-{i:05d}",
            "namespace": namespace,
            "labels": {
                "fleet.gitops.dev/applicationset": appset,
                "team": f"team-{i % 7}",
            },
        },
        "spec": {
            "project": f"project-{i % 5}",
            "source": {"repoURL": "https://git.example/config.git", "path": f"apps/{appset}"},
            "destination": {"name": cluster, "namespace": "web"},
        },
    }


def status_of(i: int) -> dict[str, Any]:
    status: dict[str, Any] = {
        "sync": {"status": "Synced", "revision": f"{i:040x}"},
        "health": {"status": "Healthy"},
    }
    if i % 50 == 1:
        status["sync"]["status"] = "OutOfSync"
    if i % 100 == 2:
        status["health"]["status"] = "Degraded"
    if i % 100 == 3:
        status["conditions"] = [{"type": "ComparisonError", "message": f"render failed {i}"}]
    return status


async def populate(api: Any, namespace: str, count: int) -> float:
    started = time.perf_counter()
    limit = anyio.Semaphore(32)

    async def one(i: int) -> None:
        async with limit:
            await request_json(
                api, "POST", APPLICATION.collection(namespace), body=application(i, namespace)
            )
            await request_json(
                api,
                "PATCH",
                APPLICATION.status(namespace, f"app-{i:05d}"),
                body={"status": status_of(i)},
                content_type="application/merge-patch+json",
            )

    async with anyio.create_task_group() as tg:
        for i in range(count):
            tg.start_soon(one, i)
    return time.perf_counter() - started


def fetch(port: int, path: str) -> tuple[float, float, float, int]:
    """(first byte ms, full ms, server ms, bytes) of one GET."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    first = time.perf_counter()
    body = response.read()
    full = time.perf_counter()
    conn.close()
    assert response.status == 200, (path, response.status)
    timing = response.getheader("Server-Timing") or "app;dur=nan"
    server = float(timing.split("dur=")[1])
    return (first - started) * 1000, (full - started) * 1000, server, len(body)


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": round(statistics.median(ordered), 1), "p95": round(p95, 1)}


async def measure_page(port: int, path: str, samples: int) -> dict[str, Any]:
    runs = [await anyio.to_thread.run_sync(fetch, port, path) for _ in range(samples)]
    return {
        "path": path,
        "bytes": runs[-1][3],
        "server_ms": summary([r[2] for r in runs]),
        "first_byte_ms": summary([r[0] for r in runs]),
        "full_ms": summary([r[1] for r in runs]),
    }


class EventReader:
    """A /dashboard/events client in a thread: records when each Application name arrives."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.seen: dict[str, float] = {}
        self.ready = threading.Event()
        self.lock = threading.Lock()
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def run(self) -> None:
        self.conn.request("GET", "/dashboard/events")
        response = self.conn.getresponse()
        try:
            while True:
                line = response.fp.readline()
                if not line:
                    return
                if line.startswith(b"event: hello"):
                    self.ready.set()
                if line.startswith(b"data: "):
                    at = time.perf_counter()
                    data = json.loads(line[6:])
                    with self.lock:
                        for name in data.get("app") or {}:
                            self.seen.setdefault(name, at)
        except (OSError, ValueError):
            return


async def measure_sse(api: Any, namespace: str, port: int, samples: int) -> dict[str, Any]:
    reader = EventReader(port)
    thread = threading.Thread(target=reader.run, daemon=True)
    thread.start()
    await anyio.to_thread.run_sync(reader.ready.wait, 30)
    latencies: list[float] = []
    for k in range(samples):
        name = f"app-{(k * 37) % 1000:05d}"
        patched = time.perf_counter()
        await request_json(
            api,
            "PATCH",
            APPLICATION.status(namespace, name),
            body={"status": {"health": {"status": "Progressing", "message": f"sample {k}"}}},
            content_type="application/merge-patch+json",
        )
        answered = time.perf_counter()
        with anyio.fail_after(30):
            while True:
                with reader.lock:
                    at = reader.seen.pop(name, None)
                if at is not None and at >= patched:
                    break
                await anyio.sleep(0.002)
        latencies.append((at - answered) * 1000)
        await request_json(
            api,
            "PATCH",
            APPLICATION.status(namespace, name),
            body={"status": {"health": {"status": "Healthy", "message": None}}},
            content_type="application/merge-patch+json",
        )
        await anyio.sleep(0.2)
        with reader.lock:
            reader.seen.clear()
    reader.conn.close()
    return {"status_change_to_event_ms": summary(latencies), "samples": samples}


async def run(apps: int, samples: int) -> dict[str, Any]:
    from fleet.sim import SimServer

    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(SimServer(clusters=1)) as sim,
    ):
        cluster = sim.clusters["cluster-1"]
        creds = Credentials(
            server=cluster.server, token=cluster.token, ca_pem=cluster.ca_file.read_bytes()
        )
        async with build_api_client(creds) as api:
            await install_crds(api)
            namespace = f"bench-{uuid.uuid4().hex[:6]}"
            await request_json(
                api, "POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}}
            )
            created_s = await populate(api, namespace, apps)
            urls: list[str] = []
            loaded = time.perf_counter()
            async with anyio.create_task_group() as tg:
                tg.start_soon(
                    lambda: serve(api, namespace, FLEET, "127.0.0.1", 0, ready=urls.append)
                )
                with anyio.fail_after(300):
                    while not urls:
                        await anyio.sleep(0.01)
                watch_listed_s = time.perf_counter() - loaded
                port = int(urls[0].split(":")[2].split("/")[0])
                result: dict[str, Any] = {
                    "benchmark": "dashboard",
                    "applications": apps,
                    "clusters": CLUSTERS,
                    "appsets": APPSETS,
                    "setup": {
                        "hub": "fleet.sim in a thread of this process",
                        "dashboard": "fleet dashboard's serve() (one hub watch), no controller",
                        "create_and_status_s": round(created_s, 1),
                        "first_list_into_view_model_s": round(watch_listed_s, 2),
                    },
                    "pages": {},
                }
                pages = {
                    "applications": "/dashboard/apps",
                    "applications_page_100": "/dashboard/apps?page=100",
                    "filter_sync_and_text": "/dashboard/apps?sync=OutOfSync&q=app-01",
                    "filter_label": "/dashboard/apps?label=team%3Dteam-3&health=Degraded",
                    "fleet": "/dashboard/",
                    "application": "/dashboard/apps/app-00002",
                }
                for key, path in pages.items():
                    result["pages"][key] = await measure_page(port, path, samples)
                result["sse"] = await measure_sse(api, namespace, port, samples)
                tg.cancel_scope.cancel()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    from fleet.logging import configure_logging

    configure_logging("warning")
    print(json.dumps(anyio.run(run, args.apps, args.samples), indent=2))


if __name__ == "__main__":
    main()
