"""Fleet benchmark: the controller as a process against fleet.sim clusters in another process.

Phases, each printed as JSON figures (nothing fails on speed):
1. ceiling: the simulator's raw server-side-apply throughput on this machine (objects/s with 32
   concurrent appliers), the rate no controller driving it can beat;
2. initial: an ApplicationSet (clusters x git directories) applied -> every Application Synced and
   Healthy: seconds, API requests the controller sent to members (by method);
3. commit: a commit changing every app, announced by a signed GitHub push webhook -> every
   Application Synced and Healthy at the new revision;
4. steady: nothing changing for `--steady-seconds`: member requests per minute by method (writes
   should be 0), controller CPU as % of one core;
throughout: the controller's peak RSS and CPU seconds (from /proc), summed over its processes
(with `--workers N`: the supervisor and its N workers).

`PYTHONPATH=. .venv/bin/python bench/fleet_bench.py [--clusters 200 --apps 5 --objects 10
[--steady-seconds 300] [--workers N]]`; `make bench` runs the issue's two shapes: 200 x 5 x 10
with a 5 minute steady state, and 1,000 clusters x 2 apps (initial convergence and RSS only).
`--workers` (default 1) is `fleet controller run --workers`; the machine's load average at the
start and end is printed with the figures (they mean little on a busy machine), its speed
at the start (bench/calibration.py), which tells a slower hour from slower code, and the
versions of Python, OpenSSL and the hot-path libraries, which tell both from another build.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import git
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.calibration import machine_speed, software  # noqa: E402
from fleet.api.crds import install_crds  # noqa: E402
from fleet.api.resources import APPLICATION, APPLICATION_SET, CLUSTER  # noqa: E402
from fleet.kube import (  # noqa: E402
    Conflict,
    Credentials,
    build_api_client,
    request_json,
)
from fleet.kube.watch import list_and_watch  # noqa: E402
from fleet.logging import configure_logging  # noqa: E402
from tests.controllers.harness import synced_and_healthy  # noqa: E402

NAMESPACE = "fleet-system"
SECRET = "bench-webhook-secret"
RENDER_BIN = ROOT / ".cache" / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _one_process(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    out["cpu_s"] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def _fleet_processes(pid: int) -> list[int]:
    """`pid` and its children that are fleet processes (a supervisor's workers; not the git,
    helm or kustomize processes a controller runs now and then)."""
    found = [pid]
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            with contextlib.suppress(OSError):
                if b"fleet.cli" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(int(child))
    return found


def proc_figures(pid: int) -> dict[str, float]:
    """RSS now and peak (MiB), CPU seconds (user + system) of the controller: the process and
    its worker processes, summed (peaks are summed too: an upper bound of the joint peak)."""
    total = {"VmRSS": 0.0, "VmHWM": 0.0, "cpu_s": 0.0, "processes": 0.0}
    for index, each in enumerate(_fleet_processes(pid)):
        with contextlib.suppress(OSError):
            figures = _one_process(each)
            for key, value in figures.items():
                total[key] += value
            total["processes"] += 1
            total[f"rss_mib_{index}"] = figures["VmRSS"]
    return total


async def dump_memtrace(controller: subprocess.Popen[bytes]) -> None:
    """Ask a controller started under bench/memtrace.py for its allocation report."""
    out = Path(os.environ["FLEET_BENCH_TRACEMALLOC"])
    with contextlib.suppress(FileNotFoundError):
        out.unlink()
    controller.send_signal(signal.SIGUSR1)
    with anyio.move_on_after(900):  # a deep traceback (FLEET_MEMTRACE_DEPTH) takes minutes
        while not out.exists():
            await anyio.sleep(0.5)


def busy_process(cpu: int) -> subprocess.Popen[bytes]:
    """A process spinning one core (the overload drill's competitor), pinned to `cpu`."""
    return subprocess.Popen(["taskset", "-c", str(cpu), sys.executable, "-c", "while True: pass"])


class ReadinessProbes:
    """The kubelet's readiness probe, every second against the health port, with the
    deployment's 5 s timeout: how often it would have failed during convergence."""

    def __init__(self, session: aiohttp.ClientSession, port: int) -> None:
        self.session, self.port = session, port
        self.latencies: list[float] = []
        self.failures = 0

    async def run(self) -> None:
        while True:
            started = time.perf_counter()
            try:
                with anyio.fail_after(5):
                    url = f"http://127.0.0.1:{self.port}/readyz"
                    async with self.session.get(url) as response:
                        ok = response.status == 200
            except (TimeoutError, aiohttp.ClientError):
                ok = False
            self.latencies.append(time.perf_counter() - started)
            self.failures += 0 if ok else 1
            await anyio.sleep(1.0)

    def figures(self) -> dict[str, Any]:
        ordered = sorted(self.latencies) or [0.0]
        return {
            "readyz_probes": len(self.latencies),
            "readyz_failures": self.failures,
            "readyz_p50_ms": round(1000 * ordered[len(ordered) // 2], 1),
            "readyz_max_ms": round(1000 * ordered[-1], 1),
        }


def log_count(path: Path, event: str) -> int:
    """Lines of the controller's JSON log whose event starts with `event`."""
    count = 0
    with path.open(errors="replace") as log:
        for line in log:
            with contextlib.suppress(ValueError):
                if str(json.loads(line).get("event", "")).startswith(event):
                    count += 1
    return count


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a shape of 0 clusters, Applications
    or objects has nothing to converge, and fleet.sim serves no 0-cluster fleet)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not at least 1")
    return value


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# -- the config repository ---------------------------------------------------------------------


def app_files(apps: int, objects: int, version: str, *, deployment: bool = True) -> dict[str, str]:
    """`apps/app-<i>/`: one Deployment and `objects - 1` ConfigMaps (one carries `version`), or
    `objects` ConfigMaps without `deployment` (Argo CD's published 10,000-Application shape)."""
    files: dict[str, str] = {}
    for a in range(apps):
        base = f"apps/app-{a}"
        for o in range(objects - 1 if deployment else objects):
            data = {"index": str(o), "version": version if o == 0 else "1"}
            files[f"{base}/cm-{o}.yaml"] = yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"cm-{o}"},
                    "data": data,
                }
            )
        if not deployment:
            continue
        labels = {"app": f"app-{a}"}
        files[f"{base}/deployment.yaml"] = yaml.safe_dump(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                    },
                },
            }
        )
    return files


class ConfigRepo:
    """A bare repository served by `git daemon`, and a work tree that pushes to it."""

    def __init__(self, base: Path) -> None:
        self.base = base / "srv"
        self.base.mkdir(parents=True)
        self.bare = self.base / "config.git"
        git.Repo.init(self.bare, bare=True, initial_branch="main").close()
        self.work = base / "work"
        repo = git.Repo.init(self.work, initial_branch="main")
        with repo.config_writer() as config:
            config.set_value("user", "name", "fleet bench")
            config.set_value("user", "email", "bench@fleet.invalid")
        repo.create_remote("origin", str(self.bare))
        repo.close()
        self.port = free_port()
        self.daemon = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                f"--base-path={self.base}",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                str(self.base),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise RuntimeError("git daemon did not start")

    @property
    def url(self) -> str:
        return f"git://127.0.0.1:{self.port}/config.git"

    def commit(self, files: dict[str, str], message: str) -> str:
        repo = git.Repo(self.work)
        try:
            for relative, content in files.items():
                target = self.work / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content)
            repo.git.add(A=True)
            repo.git.commit("-q", "-m", message)
            repo.git.push("-q", "origin", "HEAD:refs/heads/main")
            return str(repo.head.commit.hexsha)
        finally:
            repo.close()

    def stop(self) -> None:
        self.daemon.terminate()
        self.daemon.wait(timeout=10)


# -- processes ---------------------------------------------------------------------------------


SIM_BOOKMARK_INTERVAL = 60.0
"""Seconds between the simulated API servers' watch bookmarks: about what a real API server
sends (fleet.sim's own default, 5 s, is for tests). At 5 s, 400 idle watches were 80 bookmark
lines a second for the controller to read, twelve times a real fleet's, and the steady state
measured that."""


def start_sim(clusters: int, directory: Path, profile: str = "minimal") -> subprocess.Popen[bytes]:
    code = (
        "from pathlib import Path; from fleet.sim.cli import serve; "
        f"serve({clusters}, None, Path({str(directory)!r}), profile={profile!r}, "
        f"bookmark_interval={SIM_BOOKMARK_INTERVAL!r})"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    assert process.stderr is not None
    for raw in process.stderr:
        if b"fleet-sim: serving" in raw:
            return process
    raise RuntimeError("fleet sim serve exited before it was ready")


def start_controller(
    hub_kubeconfig: Path,
    workdir: Path,
    port: int,
    probe_interval: float,
    workers: int = 1,
    *,
    health_port: int = 0,
    pin_cpu: int | None = None,
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FLEET_WEBHOOK_GITHUB_SECRET": SECRET,
        "FLEET_LOG_FORMAT": "json",
        "PATH": f"{RENDER_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    log = (workdir / "controller.log").open("wb")
    profile = os.environ.get("FLEET_BENCH_PROFILE")  # a path: run the controller under cProfile
    python = [sys.executable, "-m", "cProfile", "-o", profile] if profile else [sys.executable]
    memtrace = os.environ.get("FLEET_BENCH_TRACEMALLOC")  # a path: where memory went (memtrace)
    if memtrace:
        env["FLEET_MEMTRACE_OUT"] = memtrace
        python = [sys.executable, str(ROOT / "bench" / "memtrace.py")]
    pinned = ["taskset", "-c", str(pin_cpu)] if pin_cpu is not None else []
    return subprocess.Popen(
        [
            *pinned,
            *python,
            *([] if memtrace else ["-m", "fleet.cli"]),
            "--log-level",
            "warning",
            "controller",
            "run",
            "--hub-kubeconfig",
            str(hub_kubeconfig),
            "--namespace",
            NAMESPACE,
            "--listen",
            f"127.0.0.1:{port}",
            "--health-listen",
            f"127.0.0.1:{health_port}",
            "--cache-dir",
            str(workdir / "cache"),
            "--git-poll-interval",
            "3600",
            "--resync-period",
            "180",
            "--probe-interval",
            str(probe_interval),
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def wait_ready(session: aiohttp.ClientSession, port: int) -> None:
    """Until the controller's /readyz on `port` answers 200 (at most 120 s)."""
    with anyio.fail_after(120):
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                    if response.status == 200:
                        return
            await anyio.sleep(0.2)


def kubeconfig_credentials(path: Path) -> Credentials:
    config = yaml.safe_load(path.read_text())
    cluster = config["clusters"][0]["cluster"]
    return Credentials(
        server=cluster["server"],
        token=config["users"][0]["user"]["token"],
        ca_pem=base64.b64decode(cluster["certificate-authority-data"]),
    )


# -- hub ---------------------------------------------------------------------------------------


async def register(hub: Any, directory: Path, names: list[str]) -> None:
    with contextlib.suppress(Conflict):
        await request_json(
            hub, "POST", "/api/v1/namespaces", body={"metadata": {"name": NAMESPACE}}
        )
    limiter = anyio.CapacityLimiter(32)

    async def one(name: str) -> None:
        creds = kubeconfig_credentials(directory / f"{name}.kubeconfig")
        data = {"token": (creds.token or "").encode(), "ca.crt": creds.ca_pem or b""}
        async with limiter:
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
                CLUSTER.collection(NAMESPACE),
                body={
                    "apiVersion": "fleet.gitops.dev/v1alpha1",
                    "kind": "Cluster",
                    "metadata": {"name": name},
                    "spec": {
                        "server": creds.server,
                        "secretRef": {"name": name},
                        "labels": {"bench": "on"},
                    },
                },
            )

    async with anyio.create_task_group() as tg:
        for name in names:
            tg.start_soon(one, name)


def appset(repo_url: str) -> dict[str, Any]:
    return {
        "apiVersion": "fleet.gitops.dev/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "bench", "namespace": NAMESPACE},
        "spec": {
            "generators": [
                {
                    "matrix": {
                        "generators": [
                            {"clusters": {"selector": {"matchLabels": {"bench": "on"}}}},
                            {
                                "git": {
                                    "repoURL": repo_url,
                                    "revision": "main",
                                    "directories": [{"path": "apps/*"}],
                                }
                            },
                        ]
                    }
                }
            ],
            "template": {
                "metadata": {"name": "{{path.basename}}-{{name}}"},
                "spec": {
                    "project": "default",
                    "source": {"repoURL": repo_url, "targetRevision": "main", "path": "{{path}}"},
                    "destination": {"name": "{{name}}", "namespace": "{{path.basename}}"},
                    "syncPolicy": {
                        "automated": {"prune": True, "selfHeal": True},
                        "syncOptions": ["CreateNamespace=true"],
                    },
                },
            },
        },
    }


async def watch_until(
    hub: Any,
    collection: str,
    holds: Callable[[dict[str, Any]], bool],
    expected: int,
    timeout: float,
) -> float:
    """The `time.perf_counter()` at which `expected` objects of `collection` on the hub hold
    `holds`, as a watch sees them: exact to the event, and cheap for the machine under test.
    (It polled with a LIST of every Application every 2 s: at 2,000 Applications, 9 MB
    encoded by the hub and decoded here each time, a few CPU seconds per run on the 2 cores
    the controller runs on, and up to 2 s late.)"""
    done: set[str] = set()
    finished = anyio.Event()
    at = 0.0

    def check() -> None:
        nonlocal at
        if len(done) >= expected and not finished.is_set():
            at = time.perf_counter()
            finished.set()

    def note(kind: str, obj: dict[str, Any]) -> None:
        name = str((obj.get("metadata") or {}).get("name"))
        if kind != "DELETED" and holds(obj):
            done.add(name)
        else:
            done.discard(name)

    async def on_reset(items: list[dict[str, Any]]) -> None:
        done.clear()
        for item in items:
            note("ADDED", item)
        check()  # also when nothing is expected and nothing is listed

    async def on_event(kind: str, obj: dict[str, Any]) -> None:
        note(kind, obj)
        check()

    with anyio.fail_after(timeout):
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                functools.partial(
                    list_and_watch,
                    hub,
                    collection,
                    on_reset=on_reset,
                    on_event=on_event,
                    request_timeout=60,
                )
            )
            await finished.wait()
            tg.cancel_scope.cancel()
    return at


async def wait_converged(
    hub: Any, expected: int, revision: str | None, timeout: float, started: float
) -> float:
    """Seconds from `started` until `expected` Applications are Synced and Healthy [at
    `revision`]."""
    collection = APPLICATION.collection(NAMESPACE)
    at = await watch_until(
        hub, collection, lambda app: synced_and_healthy(app, revision), expected, timeout
    )
    return at - started


# -- metrics -----------------------------------------------------------------------------------

_SAMPLE = re.compile(
    r"^fleet_cluster_requests_total"
    r'\{(?:worker="[^"]*",)?cluster="[^"]*",verb="(\w+)"\} (\S+)$'
)


_BY_RESOURCE = re.compile(
    r"^fleet_cluster_requests_by_resource_total"
    r'\{(?:worker="[^"]*",)?resource="([^"]*)",verb="(\w+)"\} (\S+)$'
)


async def member_requests(session: aiohttp.ClientSession, port: int) -> Counter[str]:
    """Requests the controller sent to member clusters so far, by verb (method or WATCH), and
    by verb and resource under keys `"<VERB> <resource>"` (LIST: a GET of a collection)."""
    async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            counts[match.group(1)] += int(float(match.group(2)))
            continue
        match = _BY_RESOURCE.match(line)
        if match:
            counts[f"{match.group(2)} {match.group(1)}"] += int(float(match.group(3)))
    return counts


def by_verb(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if " " not in k}


def by_resource(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if " " in k}


def delta(after: Counter[str], before: Counter[str]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in sorted(after) if after[k] - before.get(k, 0)}


async def push_webhook(session: aiohttp.ClientSession, port: int, repo_url: str, sha: str) -> int:
    body = json.dumps(
        {"ref": "refs/heads/main", "after": sha, "repository": {"clone_url": repo_url}}
    ).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": signature,
        "Content-Type": "application/json",
    }
    async with session.post(
        f"http://127.0.0.1:{port}/api/webhook", data=body, headers=headers
    ) as response:
        return response.status


# -- the ceiling -------------------------------------------------------------------------------


async def sim_apply_ceiling(credentials: Credentials, count: int = 2000) -> float:
    """Server-side applies of ConfigMaps per second the simulator sustains (32 in flight)."""
    async with build_api_client(credentials) as api:
        with contextlib.suppress(Conflict):
            await request_json(
                api, "POST", "/api/v1/namespaces", body={"metadata": {"name": "ceiling"}}
            )
        limiter = anyio.CapacityLimiter(32)

        async def one(i: int) -> None:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"c-{i}", "namespace": "ceiling"},
                "data": {"i": str(i)},
            }
            async with limiter:
                await request_json(
                    api,
                    "PATCH",
                    f"/api/v1/namespaces/ceiling/configmaps/c-{i}",
                    body=body,
                    query={"fieldManager": "ceiling", "force": "true"},
                    content_type="application/apply-patch+yaml",
                )

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for i in range(count):
                tg.start_soon(one, i)
        return count / (time.perf_counter() - started)


# -- the run -----------------------------------------------------------------------------------


def _sim_cpu(members: subprocess.Popen[bytes], hub: subprocess.Popen[bytes]) -> tuple[float, float]:
    return _one_process(members.pid)["cpu_s"], _one_process(hub.pid)["cpu_s"]


def _sim_cpu_delta(before: tuple[float, float], after: tuple[float, float]) -> dict[str, float]:
    """CPU seconds the simulators spent meanwhile: a member simulator near 1 s per second was
    the bottleneck, not the controller (each is one Python process, one core at most)."""
    return {
        "members_simulator_cpu_s": round(after[0] - before[0], 1),
        "hub_simulator_cpu_s": round(after[1] - before[1], 1),
    }


@contextlib.contextmanager
def processes(*procs: subprocess.Popen[bytes]) -> Iterator[None]:
    try:
        yield
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


async def run(args: argparse.Namespace, workdir: Path, speed: dict[str, float]) -> dict[str, Any]:
    # The hub is an API server of its own (as in production), not one more cluster in the
    # members' simulator process: each simulator process is one Python core at most.
    kubeconfigs = workdir / "kubeconfigs"
    hub_kubeconfig = workdir / "hub" / "cluster-1.kubeconfig"
    hub_sim = start_sim(1, hub_kubeconfig.parent)
    sim = start_sim(args.clusters, kubeconfigs, args.profile)
    repo = ConfigRepo(workdir / "git")
    with processes(sim, hub_sim):
        hub_credentials = kubeconfig_credentials(hub_kubeconfig)
        names = [f"cluster-{i}" for i in range(1, args.clusters + 1)]
        ceiling = await sim_apply_ceiling(
            kubeconfig_credentials(kubeconfigs / f"{names[0]}.kubeconfig")
        )
        first = repo.commit(
            app_files(args.apps, args.objects, "1", deployment=not args.configmaps_only), "initial"
        )
        expected = args.clusters * args.apps
        objects = expected * args.objects
        async with build_api_client(hub_credentials) as hub, aiohttp.ClientSession() as session:
            await install_crds(hub)
            await register(hub, kubeconfigs, names)
            port, health_port = free_port(), free_port()
            load_at_start = load_average()
            controller = start_controller(
                hub_kubeconfig,
                workdir,
                port,
                args.probe_interval,
                args.workers,
                health_port=health_port,
                pin_cpu=args.pin_cpu,
            )
            competing = (
                [busy_process(args.pin_cpu if args.pin_cpu is not None else 0)]
                if args.competing_busy
                else []
            )
            probes = ReadinessProbes(session, health_port)
            with processes(controller, *competing):
                await wait_ready(session, port)
                before = await member_requests(session, port)
                cpu_before = proc_figures(controller.pid)["cpu_s"]
                sims_before = _sim_cpu(sim, hub_sim)
                started = time.perf_counter()
                await request_json(
                    hub, "POST", APPLICATION_SET.collection(NAMESPACE), body=appset(repo.url)
                )
                async with anyio.create_task_group() as probing:
                    probing.start_soon(probes.run)
                    initial_s = await wait_converged(hub, expected, first, args.timeout, started)
                    probing.cancel_scope.cancel()
                after_initial = await member_requests(session, port)
                cpu_initial = proc_figures(controller.pid)["cpu_s"]
                initial_requests = delta(after_initial, before)
                result: dict[str, Any] = {
                    "shape": {
                        "clusters": args.clusters,
                        "apps_per_cluster": args.apps,
                        "objects_per_app": args.objects,
                        "deployment_per_app": not args.configmaps_only,
                        "applications": expected,
                        "objects": objects,
                        "member_profile": args.profile,
                        "sim_bookmark_interval_s": SIM_BOOKMARK_INTERVAL,
                        "workers": args.workers,
                    },
                    "ceiling": {
                        "sim_apply_objects_per_s": round(ceiling, 1),
                        "min_seconds_for_all_objects": round(objects / ceiling, 1),
                    },
                    "initial": {
                        "seconds": round(initial_s, 1),
                        "objects_per_s": round(objects / initial_s, 1),
                        "member_requests": by_verb(initial_requests),
                        "member_requests_by_resource": by_resource(initial_requests),
                        "reads_per_object_applied": round(
                            initial_requests.get("GET", 0) / max(1, objects), 2
                        ),
                        "controller_cpu_s": round(cpu_initial - cpu_before, 1),
                        **_sim_cpu_delta(sims_before, _sim_cpu(sim, hub_sim)),
                    },
                }
                if not args.skip_commit:
                    files = app_files(
                        args.apps, args.objects, "2", deployment=not args.configmaps_only
                    )
                    changed = {k: v for k, v in files.items() if k.endswith("cm-0.yaml")}
                    second = repo.commit(changed, "bump every app")
                    started = time.perf_counter()
                    status = await push_webhook(session, port, repo.url, second)
                    commit_s = await wait_converged(hub, expected, second, args.timeout, started)
                    after_commit = await member_requests(session, port)
                    result["commit"] = {
                        "webhook_status": status,
                        "seconds_webhook_to_all_synced_healthy": round(commit_s, 1),
                        "changed_objects": expected,
                        "member_requests": by_verb(delta(after_commit, after_initial)),
                        "member_requests_by_resource": by_resource(
                            delta(after_commit, after_initial)
                        ),
                        "controller_cpu_s": round(
                            proc_figures(controller.pid)["cpu_s"] - cpu_initial, 1
                        ),
                    }
                if args.steady_seconds > 0:
                    steady_before = await member_requests(session, port)
                    rss0 = proc_figures(controller.pid)["VmRSS"]
                    cpu0, t0 = proc_figures(controller.pid)["cpu_s"], time.perf_counter()
                    await anyio.sleep(args.steady_seconds)
                    steady_after = await member_requests(session, port)
                    cpu1, t1 = proc_figures(controller.pid)["cpu_s"], time.perf_counter()
                    minutes = (t1 - t0) / 60
                    per_method = delta(steady_after, steady_before)
                    result["steady"] = {
                        "seconds": round(t1 - t0),
                        "member_requests_per_minute": {
                            k: round(v / minutes, 1) for k, v in by_verb(per_method).items()
                        },
                        "member_requests_per_minute_by_resource": {
                            k: round(v / minutes, 1) for k, v in by_resource(per_method).items()
                        },
                        "member_writes": sum(
                            v for k, v in by_verb(per_method).items() if k not in ("GET", "WATCH")
                        ),
                        "controller_cpu_percent_of_one_core": round(
                            100 * (cpu1 - cpu0) / (t1 - t0), 2
                        ),
                        "controller_rss_mib_at_start_and_end": [
                            round(rss0, 1),
                            round(proc_figures(controller.pid)["VmRSS"], 1),
                        ],
                        "target": "no writes; CPU < 5 % of one core",
                    }
                if os.environ.get("FLEET_BENCH_TRACEMALLOC"):
                    await dump_memtrace(controller)
                figures = proc_figures(controller.pid)
                result["controller"] = {
                    "processes": int(figures["processes"]),
                    "peak_rss_mib": round(figures["VmHWM"], 1),
                    "rss_mib": round(figures["VmRSS"], 1),
                    "cpu_s_total": round(figures["cpu_s"], 1),
                    "rss_mib_by_process": [  # the first is the supervisor with --workers N > 1
                        round(v, 1) for k, v in figures.items() if k.startswith("rss_mib_")
                    ],
                }
                result["liveness_during_initial_convergence"] = {
                    "controller_pinned_to_cpu": args.pin_cpu,
                    "competing_busy_process_on_that_cpu": args.competing_busy,
                    **probes.figures(),
                    "shard_losses": log_count(workdir / "controller.log", "sharding.lost"),
                    "lease_rounds_failed_or_timed_out": log_count(
                        workdir / "controller.log", "sharding.round_"
                    ),
                    "target": "converges; 0 shard losses; readiness stays green",
                }
                result["machine"] = {
                    "cpus": os.cpu_count(),
                    "speed_at_start": speed,  # bench/calibration.py: lower is faster
                    "software": software(),
                    "load_average_1_5_15_at_start": load_at_start,
                    "load_average_1_5_15_at_end": load_average(),
                }
    repo.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=positive, default=200)
    parser.add_argument("--apps", type=positive, default=5)
    parser.add_argument("--objects", type=positive, default=10)
    parser.add_argument("--steady-seconds", type=float, default=300.0)
    parser.add_argument("--skip-commit", action="store_true")
    parser.add_argument(
        "--configmaps-only",
        action="store_true",
        help="every object a ConfigMap (no Deployment): with --clusters 100 --apps 100 "
        "--objects 1, Argo CD's published 10,000-Application benchmark shape",
    )
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--probe-interval", type=float, default=10.0)
    parser.add_argument(
        "--pin-cpu",
        type=int,
        default=None,
        metavar="N",
        help="run the controller on CPU N only (taskset): the overload drill",
    )
    parser.add_argument(
        "--competing-busy",
        action="store_true",
        help="a busy process on the controller's CPU (--pin-cpu, else 0) for the whole run",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="`fleet controller run --workers` (processes)"
    )
    parser.add_argument(
        "--profile",
        choices=("minimal", "realistic"),
        default="minimal",
        help="fleet.sim profile of the member clusters (realistic: a kind member's 60 kinds "
        "and ~290 default objects; the hub stays minimal)",
    )
    args = parser.parse_args()
    configure_logging("warning")
    workdir = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    try:
        # measured before anything of the run loads the machine (and outside its event loop)
        result = anyio.run(run, args, workdir, machine_speed())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
