"""Benchmark: matrix(clusters x git directories) = 1,000 clusters x 50 directories = 50,000 Apps.

Prints one JSON document. Figures: library generation time (parse excluded, one process per run),
`fleet appset render -o json` wall time (process start to exit, output to /dev/null), and the peak
RSS of each process (from wait4). Both template modes. Not a test: nothing here fails on speed.

    make bench            # or: .venv/bin/python bench/generators_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import git
import yaml

CLUSTERS = 1000
DIRECTORIES = 50
REPO_URL = "https://git.example.com/platform/apps.git"


def appset(go_template: bool) -> dict[str, Any]:
    if go_template:
        name, server, path = "{{.name}}-{{.path.basename}}", "{{.server}}", "{{.path.path}}"
        env, team = '{{index .metadata.labels "env"}}', '{{index .metadata.labels "team"}}'
    else:
        name, server, path = "{{name}}-{{path.basename}}", "{{server}}", "{{path}}"
        env, team = "{{metadata.labels.env}}", "{{metadata.labels.team}}"
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "bench", "namespace": "argocd"},
        "spec": {
            "goTemplate": go_template,
            "generators": [
                {
                    "matrix": {
                        "generators": [
                            {"clusters": {"selector": {"matchLabels": {"tier": "workload"}}}},
                            {
                                "git": {
                                    "repoURL": REPO_URL,
                                    "revision": "HEAD",
                                    "directories": [{"path": "apps/*"}],
                                }
                            },
                        ]
                    }
                }
            ],
            "template": {
                "metadata": {"name": name, "labels": {"env": env, "team": team}},
                "spec": {
                    "project": "default",
                    "source": {"repoURL": REPO_URL, "targetRevision": "HEAD", "path": path},
                    "destination": {"server": server, "namespace": "apps"},
                    "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
                },
            },
        },
    }


def make_inputs(root: Path) -> dict[str, Path]:
    repo_dir = root / "repo"
    repo = git.Repo.init(repo_dir, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "bench")
        config.set_value("user", "email", "bench@fleet.invalid")
    for i in range(DIRECTORIES):
        app = repo_dir / "apps" / f"app-{i:02d}"
        app.mkdir(parents=True)
        (app / "kustomization.yaml").write_text("resources: [deployment.yaml]\n")
    repo.git.add(A=True)
    repo.index.commit("apps")
    repo.close()
    clusters = [
        {
            "name": f"cluster-{i:04d}",
            "server": f"https://10.{i // 250}.{i % 250}.1:6443",
            "labels": {
                "tier": "workload",
                "env": ("prod", "staging", "dev")[i % 3],
                "team": f"team-{i % 17}",
            },
            "annotations": {"owner": f"sre-{i % 5}"},
        }
        for i in range(CLUSTERS)
    ]
    paths = {"repo": repo_dir, "clusters": root / "clusters.yaml"}
    paths["clusters"].write_text(yaml.safe_dump(clusters))
    for mode in ("default", "gotemplate"):
        paths[mode] = root / f"appset-{mode}.yaml"
        paths[mode].write_text(yaml.safe_dump(appset(mode == "gotemplate"), sort_keys=False))
    return paths


def library_run(appset_path: str, clusters_path: str, repo_dir: str) -> None:
    """Child process: parse inputs, then time `expand()` alone."""
    from fleet.appset_render import load_clusters
    from generators.base import Environment
    from generators.expand import expand
    from generators.model import parse_application_set
    from generators.repos import LocalRepoResolver

    parsed = parse_application_set(yaml.safe_load(Path(appset_path).read_text()))
    env = Environment(
        clusters=load_clusters(clusters_path), repos=LocalRepoResolver({REPO_URL: repo_dir})
    )
    start = time.perf_counter()
    expansion = expand(parsed, env)
    elapsed = time.perf_counter() - start
    assert expansion.complete, expansion.errors[:1]
    print(json.dumps({"seconds": elapsed, "applications": len(expansion.applications)}))


def run_child(argv: list[str], stdout: int | None) -> tuple[float, int, bytes]:
    """Wall seconds, peak RSS in MiB, and stdout of a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=stdout if stdout is not None else subprocess.PIPE)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark child failed: {argv}")
    return wall, usage.ru_maxrss // 1024, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--library-run", nargs=3, metavar=("APPSET", "CLUSTERS", "REPO"))
    args = parser.parse_args()
    if args.library_run:
        library_run(*args.library_run)
        return
    fleet_cli = str(Path(sys.executable).with_name("fleet"))
    results: dict[str, Any] = {
        "benchmark": "matrix(clusters x git directories)",
        "clusters": CLUSTERS,
        "directories": DIRECTORIES,
        "applications": CLUSTERS * DIRECTORIES,
        "runs": args.runs,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "targets": {"library_seconds": 2.0, "cli_seconds": 5.0, "peak_rss_mib": 500},
        "modes": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_inputs(Path(tmp))
        for mode in ("default", "gotemplate"):
            library, library_rss, cli, cli_rss = [], [], [], []
            for _ in range(args.runs):
                _, rss, out = run_child(
                    [
                        sys.executable,
                        __file__,
                        "--library-run",
                        str(paths[mode]),
                        str(paths["clusters"]),
                        str(paths["repo"]),
                    ],
                    None,
                )
                report = json.loads(out)
                assert report["applications"] == CLUSTERS * DIRECTORIES
                library.append(report["seconds"])
                library_rss.append(rss)
                with open(os.devnull, "wb") as devnull:
                    wall, rss, _ = run_child(
                        [
                            fleet_cli,
                            "appset",
                            "render",
                            str(paths[mode]),
                            "--clusters",
                            str(paths["clusters"]),
                            "--repo",
                            f"{REPO_URL}={paths['repo']}",
                            "-o",
                            "json",
                        ],
                        devnull.fileno(),
                    )
                cli.append(wall)
                cli_rss.append(rss)
            results["modes"][mode] = {
                "library_seconds": {"min": min(library), "median": statistics.median(library)},
                "library_peak_rss_mib": max(library_rss),
                "cli_json_wall_seconds": {"min": min(cli), "median": statistics.median(cli)},
                "cli_peak_rss_mib": max(cli_rss),
            }
    modes = results["modes"]
    results["gotemplate_over_default_library"] = round(
        modes["gotemplate"]["library_seconds"]["median"]
        / modes["default"]["library_seconds"]["median"],
        2,
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
