"""The example config repository the scenario deploys, and writing it into a bare git repo.

Only ConfigMaps and Services: their health needs no controller or kubelet on the member (Argo CD
calls a ConfigMap Healthy as soon as it exists, a ClusterIP Service too), so the same repository
converges on kind and on bare kube-apiservers without a StatusAgent.

Written with the `git` command rather than GitPython so it also runs inside the controller
image (`e2e/kind/run.sh`), which has git but not the test dependencies.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

import yaml

APPS = ("web", "api")
"""The directories `apps/*` of the example repository: one Application per member and app."""

REPO_NAME = "config"
BRANCH = "main"
_GIT_TIMEOUT = 60.0


def _configmap(name: str, data: Mapping[str, str]) -> str:
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": dict(data)}
    )


def _service(name: str, port: int) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {
                "type": "ClusterIP",
                "selector": {"app": name},
                "ports": [{"name": "http", "port": port, "targetPort": port, "protocol": "TCP"}],
            },
        }
    )


def example_files() -> dict[str, str]:
    """Path -> content of the example config repository (`apps/<app>/*.yaml`)."""
    return {
        "README.md": "Example config repository of fleet's end-to-end scenario.\n",
        "apps/web/configmap.yaml": _configmap("web-config", {"color": "blue"}),
        "apps/web/service.yaml": _service("web", 8080),
        "apps/api/configmap.yaml": _configmap("api-config", {"mode": "fast"}),
        "apps/api/service.yaml": _service("api", 9090),
    }


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=_GIT_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {cwd} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def write_repo(base: Path, files: Mapping[str, str] | None = None, name: str = REPO_NAME) -> str:
    """Commit `files` (default: the example) to branch main of the bare repo `base/<name>.git`,
    creating it if needed, and return the commit. `git daemon --base-path=base` then serves it as
    `git://HOST:PORT/<name>.git`."""
    bare = base / f"{name}.git"
    if not bare.exists():
        bare.mkdir(parents=True)
        _git(bare, "init", "-q", "--bare", "--initial-branch", BRANCH)
    with tempfile.TemporaryDirectory(prefix="fleet-scenario-repo-") as tmp:
        work = Path(tmp)
        _git(work, "init", "-q", "--initial-branch", BRANCH)
        for relative, content in (example_files() if files is None else files).items():
            target = work / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        _git(work, "add", "-A")
        _git(
            work,
            "-c",
            "user.name=fleet e2e",
            "-c",
            "user.email=e2e@fleet.invalid",
            "commit",
            "-q",
            "-m",
            "example config",
        )
        _git(work, "push", "-q", "--force", str(bare.resolve()), f"HEAD:refs/heads/{BRANCH}")
        return _git(work, "rev-parse", "HEAD")
