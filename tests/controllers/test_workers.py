"""`fleet controller run --workers N`: N worker processes, each a replica in the Lease-based
sharding, behind one supervisor that owns the ports and restarts a worker that dies.

Real processes against fleet.sim (members a1, m4 in shard 0 of 2 and b1 in shard 1, so both
workers have clusters), a git daemon, and the supervisor's public ports."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fleet.controllers.sharding import LEASES, shard_of
from fleet.kube import request_json
from generators.base import IN_CLUSTER_NAME
from tests.clusters.harness import simulated_env
from tests.controllers.harness import (
    Scenario,
    configmap,
    stop_process,
    synced_and_healthy,
    wait_ready,
)
from tests.git.support import free_port

pytestmark = pytest.mark.anyio

MEMBERS = ["a1", "b1", "m4"]
"""sha256 puts a1 and m4 in shard 0 of 2, b1 in shard 1."""
SHARDS = 2
SECRET = "workers-webhook-secret"
LEASE = "3"
REPLICA = "t"


@pytest.fixture
async def scenario(tmp_path: Path) -> AsyncIterator[Scenario]:
    async with (
        simulated_env(tmp_path, MEMBERS) as env,
        Scenario.open(env, tmp_path) as made,
    ):
        for member in env.members:
            await made.register(member)
        yield made


async def until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll an async `predicate` until it returns a truthy value (bounded)."""
    last: Any = None
    try:
        with anyio.fail_after(timeout):
            while True:
                last = await predicate()
                if last:
                    return last
                await anyio.sleep(0.2)
    except TimeoutError:
        pytest.fail(f"never: {what} (last: {last!r})")


class Supervised:
    """The supervisor process and its public ports."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, health: int, log: Path) -> None:
        self.proc, self.port, self.health, self.log = proc, port, health, log

    async def get(self, port: int, path: str) -> tuple[int, str]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}{path}") as response,
        ):
            return response.status, await response.text()

    async def metrics(self) -> dict[tuple[str, str], dict[str, float]]:
        """(family, worker) -> {sample labels as text: value} of the supervisor's /metrics."""
        status, text = await self.get(self.port, "/metrics")
        assert status == 200
        out: dict[tuple[str, str], dict[str, float]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = dict(sample.labels)
                worker = labels.pop("worker", "")
                key = json.dumps(sorted(labels.items()))
                out.setdefault((sample.name, worker), {})[key] = sample.value
        return out

    def workers(self) -> dict[str, int]:
        """Replica id -> pid of every live worker process (children of the supervisor)."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        found: dict[str, int] = {}
        with suppress(OSError):
            for pid in map(int, children.read_text().split()):
                with suppress(OSError, ValueError):  # gone, or a zombie (no command line)
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                    identity = argv[argv.index(b"--replica-id") + 1].decode()
                    found[identity] = pid
        return found


@asynccontextmanager
async def supervised(scenario: Scenario, *extra: str) -> AsyncIterator[Supervised]:
    port, health = free_port(), free_port()
    log = scenario.workdir / "supervisor.log"
    proc = scenario.start_process(
        log,
        port,
        "--workers",
        "2",
        "--replica-id",
        REPLICA,
        "--lease-duration",
        LEASE,
        "--health-listen",
        f"127.0.0.1:{health}",
        *extra,
        env={"FLEET_WEBHOOK_GITHUB_SECRET": SECRET},
    )
    try:
        await wait_ready(port, timeout=90)
        yield Supervised(proc, port, health, log)
    finally:
        if proc.poll() is None:
            code = await anyio.to_thread.run_sync(stop_process, proc, signal.SIGTERM)
            assert code == 0, log.read_text()[-3000:]


async def shard_holders(scenario: Scenario) -> dict[str, str]:
    """Shard Lease name -> its holder ("" when released)."""
    listing = await request_json(
        scenario.hub,
        "GET",
        LEASES.format(namespace=scenario.namespace),
        query={"labelSelector": "fleet.gitops.dev/coordination=shard"},
    )
    return {i["metadata"]["name"]: i["spec"].get("holderIdentity") or "" for i in listing["items"]}


async def both_workers_hold_one_shard(scenario: Scenario) -> bool:
    holders = await shard_holders(scenario)
    return sorted(holders.values()) == [f"{REPLICA}-w0", f"{REPLICA}-w1"]


def every_app(scenario: Scenario, extra: set[str] | None = None) -> Callable[[Any], bool]:
    names = {f"{app}-{m.name}" for app in ("web", "api") for m in scenario.env.members}
    names |= extra or set()
    return lambda apps: set(apps) == names and all(map(synced_and_healthy, apps.values()))


def owner_worker(holders: dict[str, str], cluster: str) -> str:
    """w0 or w1: the worker holding the cluster's shard."""
    return holders[f"fleet-shard-{shard_of(cluster, SHARDS)}"].rsplit("-", 1)[1]


async def test_two_workers_share_the_shards_and_every_application_converges(
    scenario: Scenario,
) -> None:
    async with supervised(scenario) as sup:
        await scenario.apply_appset(scenario.appset())
        await scenario.wait_apps(every_app(scenario), timeout=120, what="all Synced and Healthy")
        await until(lambda: both_workers_hold_one_shard(scenario), 30, "one shard per worker")
        holders = await shard_holders(scenario)

        async def figures() -> dict[tuple[str, str], dict[str, float]] | None:
            found = await sup.metrics()
            clusters = {
                w: {
                    json.loads(k)[0][1]
                    for k in found.get(("fleet_cluster_concurrency_limit", w), {})
                }
                for w in ("w0", "w1")
            }
            # The hub is a cluster too (Argo CD's implicit in-cluster), sharded like the others.
            everyone = (*MEMBERS, IN_CLUSTER_NAME)
            expected = {
                w: {m for m in everyone if owner_worker(holders, m) == w} for w in ("w0", "w1")
            }
            return found if clusters == expected else None

        # Each worker has a client for exactly its shards' clusters (the registry follows).
        found = await until(figures, 30, "each cluster's client in exactly its owner worker")
        assert found[("fleet_shards_owned", "w0")] == found[("fleet_shards_owned", "w1")]
        leading = [w for w in ("w0", "w1") if 1.0 in found[("fleet_shard_leader", w)].values()]
        assert len(leading) == 1, "exactly one worker runs the ApplicationSet controller"


async def test_the_supervisor_answers_probes_and_metrics_for_every_worker(
    scenario: Scenario,
) -> None:
    async with supervised(scenario) as sup:
        for path in ("/healthz", "/readyz"):
            status, text = await sup.get(sup.health, path)
            assert status == 200, text
            assert "w0: ok" in text and "w1: ok" in text
        found = await sup.metrics()
        for worker in ("w0", "w1"):
            assert ("fleet_shards_owned", worker) in found, "each worker's own figures"
            assert found[("fleet_worker_up", worker)] == {"[]": 1.0}, "the supervisor's view"
        assert ("fleet_http_connections_open", "supervisor") in found


async def test_a_webhook_through_the_supervisor_reaches_every_worker(scenario: Scenario) -> None:
    # No polling: only the webhook can tell the workers' repository caches about the commit.
    async with supervised(scenario, "--git-poll-interval", "3600") as sup:
        await scenario.apply_appset(scenario.appset())
        await scenario.wait_apps(every_app(scenario), timeout=120, what="all Synced and Healthy")
        await until(lambda: both_workers_hold_one_shard(scenario), 30, "one shard per worker")
        revision = scenario.upstream.commit(
            {"apps/web/configmap.yaml": configmap("web-config", {"color": "green"})}, "green"
        )
        body = json.dumps(
            {"ref": "refs/heads/main", "repository": {"clone_url": scenario.repo_url}}
        ).encode()
        signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": f"sha256={signature}"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"http://127.0.0.1:{sup.port}/api/webhook", data=body, headers=headers
            ) as response,
        ):
            assert response.status == 202, await response.text()
        # Clusters of both workers move to the new commit: each worker fetched it.
        await scenario.wait_apps(
            lambda apps: all(synced_and_healthy(a, revision) for a in apps.values()),
            timeout=60,
            what="every Application at the webhook's commit",
        )
        for member in scenario.env.members:
            await scenario.wait_member(
                member,
                "api/v1/configmaps",
                "web-config",
                lambda obj: obj is not None and obj["data"].get("color") == "green",
            )


WATCHED = (("api/v1/configmaps", "web-config"), ("apis/apps/v1/deployments", "web"))


async def member_uids(scenario: Scenario) -> dict[str, str]:
    uids: dict[str, str] = {}
    for member in scenario.env.members:
        for kind, name in (
            ("api/v1/configmaps", "web-config"),
            ("apis/apps/v1/deployments", "web"),
        ):
            obj = await scenario.member_object(member, kind, name)
            assert obj is not None
            uids[f"{member.name}/{kind}/{name}"] = obj["metadata"]["uid"]
    return uids


async def test_a_killed_worker_is_restarted_and_gets_its_shard_back_recreating_nothing(
    scenario: Scenario,
) -> None:
    async with supervised(scenario) as sup:
        await scenario.apply_appset(scenario.appset())
        await scenario.wait_apps(every_app(scenario), timeout=120, what="all Synced and Healthy")
        await until(lambda: both_workers_hold_one_shard(scenario), 30, "one shard per worker")
        before_apps = {n: a["metadata"]["uid"] for n, a in (await scenario.applications()).items()}
        before_members = await member_uids(scenario)
        victim = f"{REPLICA}-w1"
        pid = sup.workers()[victim]
        os.kill(pid, signal.SIGKILL)

        async def restarted() -> bool:
            now = sup.workers().get(victim)
            return now is not None and now != pid

        await until(restarted, 30, "the supervisor starts the killed worker again")

        async def back() -> bool:
            found = await sup.metrics()
            return found.get(("fleet_shards_owned", "w1")) == {"[]": 1.0} and found.get(
                ("fleet_worker_restarts_total", "w1")
            ) == {"[]": 1.0}

        # The new process (the old one's figures died with it) holds a shard again.
        await until(back, 60, "the restarted worker holds its shard")
        await until(lambda: both_workers_hold_one_shard(scenario), 60, "one shard per worker")
        assert "worker.exited" in sup.log.read_text()
        # The restarted worker acts on its shard again: drift on its cluster is corrected.
        holders = await shard_holders(scenario)
        member = next(m for m in scenario.env.members if owner_worker(holders, m.name) == "w1")
        await request_json(
            scenario.members[member.name],
            "PATCH",
            f"/api/v1/namespaces/{scenario.app_namespace}/configmaps/web-config",
            body={"data": {"color": "red"}},
            content_type="application/merge-patch+json",
        )
        await scenario.wait_member(
            member,
            "api/v1/configmaps",
            "web-config",
            lambda obj: obj is not None and obj["data"].get("color") == "blue",
        )
        await scenario.wait_apps(every_app(scenario), timeout=60, what="all Synced and Healthy")
        after_apps = {n: a["metadata"]["uid"] for n, a in (await scenario.applications()).items()}
        assert after_apps == before_apps, "no Application was recreated"
        assert await member_uids(scenario) == before_members, "nothing recreated on members"


async def test_sigterm_to_the_supervisor_stops_every_worker_and_releases_the_leases(
    scenario: Scenario,
) -> None:
    async with supervised(scenario) as sup:
        await until(lambda: both_workers_hold_one_shard(scenario), 30, "one shard per worker")
        pids = list(sup.workers().values())
        assert len(pids) == 2
        code = await anyio.to_thread.run_sync(stop_process, sup.proc, signal.SIGTERM)
        assert code == 0, sup.log.read_text()[-3000:]
    assert set((await shard_holders(scenario)).values()) == {""}, "every shard Lease released"
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), f"worker {pid} still runs"


def _zombie(pid: int) -> bool:
    with suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    return True


async def test_a_worker_refusing_its_options_stops_the_supervisor_not_a_restart_loop(
    scenario: Scenario,
) -> None:
    log = scenario.workdir / "refused.log"
    proc = scenario.start_process(log, free_port(), "--workers", "2", "--lease-duration", "0.5")
    try:
        code = await anyio.to_thread.run_sync(lambda: proc.wait(timeout=60))
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert code == 2, text[-3000:]
    assert "--lease-duration" in text, "the worker's own message says what is wrong"
    assert "supervisor.worker_refused_options" in text
    assert text.count("worker.started") <= 2, "no worker was restarted"


# -- the supervisor's pieces, without processes ----------------------------------------------------


def test_a_worker_runs_with_every_option_the_operator_gave() -> None:
    from fleet.cli import build_parser
    from fleet.controllers.commands import worker_options
    from fleet.controllers.workers import WORKER_OWNED

    given = [
        "controller", "run", "-n", "team-a", "--exec-plugin-allow", "aws",
        "--exec-plugin-allow", "/usr/local/bin/gke-auth", "--require-render-sandbox",
        "--reconciles", "7", "--lease-duration", "6.5", "--workers", "3",
        "--listen", "0.0.0.0:9", "--appset-max-expansion-mib", "32",
    ]  # fmt: skip
    args = build_parser().parse_args(given)
    again = build_parser().parse_args(["controller", "run", *worker_options(args, WORKER_OWNED)])
    for dest, value in vars(args).items():
        if dest not in WORKER_OWNED and dest != "handler":
            assert getattr(again, dest) == value, dest
    assert again.workers is None and again.listen == "0.0.0.0:8080", "the supervisor's own"


def test_merged_metrics_keep_each_workers_samples_apart_and_every_family_once() -> None:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

    from fleet.server.front import merge_expositions

    def worker(value: float) -> str:
        registry = CollectorRegistry()
        Counter("fleet_x", "x", ["cluster"], registry=registry).labels("a").inc(value)
        Gauge("fleet_y", "y", registry=registry).set(value)
        Histogram("fleet_z", "z", registry=registry, buckets=(1.0,)).observe(value)
        return generate_latest(registry).decode()

    merged = merge_expositions([("w0", worker(1)), ("w1", worker(2))])
    for family in ("fleet_x_total", "fleet_y", "fleet_z"):
        assert merged.count(f"# HELP {family} ") == 1 and merged.count(f"# TYPE {family} ") == 1
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(merged)
        for s in f.samples
    }
    assert samples[("fleet_x_total", (("cluster", "a"), ("worker", "w0")))] == 1
    assert samples[("fleet_x_total", (("cluster", "a"), ("worker", "w1")))] == 2
    assert samples[("fleet_y", (("worker", "w1"),))] == 2
    assert samples[("fleet_z_bucket", (("le", "1.0"), ("worker", "w0")))] == 1
    assert samples[("fleet_z_bucket", (("le", "1.0"), ("worker", "w1")))] == 0


Received = tuple[bytes, dict[str, str]]


@asynccontextmanager
async def fake_workers(count: int) -> AsyncIterator[tuple[list[list[Received]], list[int]]]:
    """`count` loopback servers standing in for workers' main ports: each records the webhooks
    it receives (body, headers) and answers 202 with its index."""
    from aiohttp import web

    received: list[list[Received]] = [[] for _ in range(count)]
    runners: list[web.AppRunner] = []
    ports: list[int] = []
    for index in range(count):

        async def hook(request: web.Request, index: int = index) -> web.Response:
            received[index].append((await request.read(), dict(request.headers)))
            return web.json_response({"worker": index}, status=202)

        app = web.Application()
        app.router.add_post("/api/webhook", hook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        ports.append(int(runner.addresses[0][1]))
    try:
        yield received, ports
    finally:
        for runner in runners:
            await runner.cleanup()


@asynccontextmanager
async def front_for(ports: list[int], max_body: int) -> AsyncIterator[int]:
    """The supervisor's main port in front of workers listening on `ports`."""
    from fleet.server.app import HttpServer
    from fleet.server.front import Front, WorkerView
    from fleet.server.limits import HttpLimits
    from fleet.server.metrics import Metrics

    views = [WorkerView(f"w{i}", alive=True, port=p, health_port=p) for i, p in enumerate(ports)]
    limits = HttpLimits(max_body=max_body)
    metrics = Metrics()
    async with Front(lambda: views, limits=limits, metrics=metrics) as front:
        server = HttpServer(front.main_app(), limits=limits, metrics=metrics)
        try:
            yield await server.start("127.0.0.1", 0)
        finally:
            await server.stop()


async def test_the_supervisor_forwards_a_webhook_byte_for_byte_to_every_worker() -> None:
    body = b'{"ref": "refs/heads/main"}'
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=abc"}
    async with (
        fake_workers(2) as (received, ports),
        front_for(ports, 1024) as port,
        aiohttp.ClientSession() as session,
        session.post(f"http://127.0.0.1:{port}/api/webhook", data=body, headers=headers) as r,
    ):
        assert r.status == 202
        assert await r.json() == {"worker": 0}, "the first worker's answer"
    for got in received:
        assert len(got) == 1
        assert got[0][0] == body
        assert got[0][1]["X-Hub-Signature-256"] == "sha256=abc"


async def test_an_oversized_webhook_is_refused_at_the_supervisor_and_reaches_no_worker() -> None:
    async with (
        fake_workers(2) as (received, ports),
        front_for(ports, 1024) as port,
        aiohttp.ClientSession() as session,
        session.post(
            f"http://127.0.0.1:{port}/api/webhook",
            data=b"x" * 4096,
            headers={"X-GitHub-Event": "push"},
        ) as r,
    ):
        assert r.status == 413
    assert received == [[], []]


async def test_the_supervisor_serves_the_dashboard_from_its_own_hub_watch(
    scenario: Scenario,
) -> None:
    async with supervised(scenario) as sup:
        await scenario.apply_appset(scenario.appset())
        await scenario.wait_apps(every_app(scenario), timeout=120, what="all Synced and Healthy")
        apps = await scenario.applications()

        async def listed() -> str | None:
            status, text = await sup.get(sup.port, "/dashboard/apps")
            return text if status == 200 and text.count("data-app=") == len(apps) else None

        text = await until(listed, 30, "every Application on the supervisor's dashboard")
        assert all(f'data-app="{name}"' in text for name in apps)
