"""Git sources benchmark: 200 repositories x 50 directories served by one local `git daemon`.

Prints one JSON document:
- cold fetch: every repository cloned into an empty cache, all at once, bounded by the cache's
  concurrency limit (wall time for all, and per repository);
- warm "no change" poll: every repository fetched again with nothing new (wall time for all,
  and the mean cost of one repository's poll);
- listing: the directories of every repository at its resolved revision through the
  generators' `RepoResolver` adapter (one worker thread, as the generators run).

Not a test: nothing fails on speed. `.venv/bin/python bench/git_bench.py [--repos N --dirs N]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from fleet.git import RepoCache
from fleet.logging import configure_logging


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def _make_repositories(base: Path, repos: int, dirs: int) -> None:
    """One work tree with `dirs` app directories, then `repos` bare copies with distinct commits."""
    work = base / "work"
    work.mkdir()
    _git(work, "init", "-q", "-b", "main")
    for index in range(dirs):
        app = work / "apps" / f"app-{index:03d}"
        app.mkdir(parents=True)
        (app / "config.json").write_text(json.dumps({"name": f"app-{index}", "replicas": 2}))
        (app / "values.yaml").write_text(f"image: example/app-{index}:1.0\n")
    env = ["-c", "user.name=bench", "-c", "user.email=bench@fleet.invalid"]
    _git(work, "add", "-A")
    _git(work, *env, "commit", "-q", "-m", "apps")
    served = base / "served"
    served.mkdir()
    _git(base, "clone", "-q", "--bare", str(work), str(served / "template.git"))
    for index in range(repos):
        shutil.copytree(served / "template.git", served / f"repo-{index:03d}.git")
    shutil.rmtree(served / "template.git")


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("git daemon did not start")


async def _all(cache: RepoCache, urls: list[str]) -> list[float]:
    durations: list[float] = []

    async def one(url: str) -> None:
        started = time.perf_counter()
        await cache.refresh(url)
        durations.append(time.perf_counter() - started)

    async with anyio.create_task_group() as group:
        for url in urls:
            group.start_soon(one, url)
    return durations


def _list_all(resolver: Any, urls: list[str]) -> int:
    total = 0
    for url in urls:
        reader = resolver.reader(url)
        total += len(reader.directories(reader.resolve("main")))
    resolver.close()
    return total


async def _bench(args: argparse.Namespace, base: Path) -> dict[str, Any]:
    port = _free_port()
    daemon = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            f"--base-path={base / 'served'}",
            "--listen=127.0.0.1",
            f"--port={port}",
            "--max-connections=128",
            str(base / "served"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port)
        urls = [f"git://127.0.0.1:{port}/repo-{index:03d}.git" for index in range(args.repos)]
        async with RepoCache(base / "cache", concurrency=args.concurrency) as cache:
            started = time.perf_counter()
            await _all(cache, urls)
            cold = time.perf_counter() - started

            warm_durations = []
            started = time.perf_counter()
            for _ in range(args.warm_rounds):
                warm_durations += await _all(cache, urls)
            warm = (time.perf_counter() - started) / args.warm_rounds

            resolver = await cache.resolver()
            started = time.perf_counter()
            listed = await anyio.to_thread.run_sync(_list_all, resolver, urls)
            listing = time.perf_counter() - started
            fetches = sum(cache.status(url).fetch_count for url in urls)
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
    return {
        "repositories": args.repos,
        "directories_per_repository": args.dirs,
        "concurrency": args.concurrency,
        "cpus": os.cpu_count(),
        "cold_fetch_all_s": round(cold, 3),
        "cold_fetch_per_repository_ms": round(cold / args.repos * 1000, 2),
        "warm_no_change_poll_all_s": round(warm, 3),
        "warm_no_change_poll_per_repository_ms": round(warm / args.repos * 1000, 2),
        # One poll's latency when all 200 are requested at once: mostly waiting for the limiter.
        "warm_no_change_queued_latency_ms_median": round(
            statistics.median(warm_durations) * 1000, 2
        ),
        "list_directories_all_s": round(listing, 3),
        "list_directories_per_repository_ms": round(listing / args.repos * 1000, 2),
        "directories_listed": listed,
        "fetches": fetches,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--dirs", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warm-rounds", type=int, default=2)
    args = parser.parse_args()
    configure_logging("warning")
    with tempfile.TemporaryDirectory(prefix="fleet-git-bench-") as temp:
        base = Path(temp)
        started = time.perf_counter()
        _make_repositories(base, args.repos, args.dirs)
        setup = time.perf_counter() - started
        result = anyio.run(_bench, args, base)
        result["setup_s"] = round(setup, 3)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
