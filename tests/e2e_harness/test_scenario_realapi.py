"""The shared e2e scenario (e2e/scenario) against real kube-apiservers: a hub and two members,
the controller as a real `fleet controller run` process, the example repo served by `git daemon`.

This is the scenario `e2e/kind/run.sh` runs on kind; running it here tests the scenario itself
(the real `fleet cluster add`, the ApplicationSet, the wait) wherever the binaries are built.
The example repo holds only ConfigMaps and Services, whose health needs no kubelet or workload
controller, so no StatusAgent is needed. The tests without the `realapi` mark run everywhere.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
import yaml

from e2e.realapi import RealClusters
from e2e.scenario import (
    APPS,
    MemberSpec,
    ScenarioConfig,
    ScenarioTimeout,
    application_set,
    example_files,
    expected_applications,
    run_scenario,
    write_repo,
)
from e2e.scenario.run import laggard
from tests.git.support import GitDaemon, free_port

ROOT = Path(__file__).resolve().parents[2]
RENDER_BIN = Path(os.environ.get("FLEET_RENDER_BIN_DIR") or ROOT / ".cache" / "bin")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GitDaemon, str]]:
    """`git daemon` serving the example repo; yields the daemon and the commit it serves."""
    base = tmp_path_factory.mktemp("git-srv")
    revision = write_repo(base)
    daemon = GitDaemon(base)
    daemon.start()
    try:
        yield daemon, revision
    finally:
        daemon.stop()


def _config(
    real_clusters: RealClusters, daemon: GitDaemon, revision: str, **overrides: object
) -> ScenarioConfig:
    hub, *members = real_clusters.clusters
    values: dict[str, object] = {
        "hub_kubeconfig": hub.kubeconfig,
        "members": [
            MemberSpec(m.name, m.kubeconfig, {"env": f"env-{i}"}) for i, m in enumerate(members)
        ],
        "repo_url": daemon.url("config"),
        "namespace": f"fleet-e2e-{uuid.uuid4().hex[:6]}",
        "expected_revision": revision,
        "install_crds": True,
        "timeout": 120.0,
    }
    values.update(overrides)
    return ScenarioConfig(**values)  # type: ignore[arg-type]


def _start_controller(config: ScenarioConfig, workdir: Path, port: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "fleet.cli",
        "controller",
        "run",
        "--hub-kubeconfig",
        str(config.hub_kubeconfig),
        "--namespace",
        config.namespace,
        "--listen",
        f"127.0.0.1:{port}",
        "--health-listen",
        "127.0.0.1:0",
        "--cache-dir",
        str(workdir / "controller-cache"),
        "--resync-period",
        "30",
        "--git-poll-interval",
        "1",
    ]
    environment = {**os.environ, "PATH": f"{RENDER_BIN}{os.pathsep}{os.environ['PATH']}"}
    with (workdir / "controller.log").open("ab") as handle:
        return subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, env=environment, cwd=ROOT
        )


# -- the scenario on real clusters -------------------------------------------------------------


@pytest.mark.realapi
@pytest.mark.anyio
async def test_scenario_converges_on_real_clusters_with_the_controller_as_a_process(
    real_clusters: RealClusters, git_server: tuple[GitDaemon, str], tmp_path: Path
) -> None:
    daemon, revision = git_server
    config = _config(real_clusters, daemon, revision)
    # The CRDs go in first (as run.sh does with kubectl) so the controller starts against a hub
    # that serves its resources; the scenario's own install_crds is then an idempotent re-apply.
    from fleet.api.crds import install_crds
    from fleet.clusters.hub import hub_client

    async with hub_client(config.hub_kubeconfig) as hub:
        await install_crds(hub, timeout=60.0)
    controller = _start_controller(config, tmp_path, free_port())
    try:
        apps = await run_scenario(config)
    finally:
        controller.send_signal(signal.SIGTERM)
        code = await anyio.to_thread.run_sync(lambda: controller.wait(timeout=60))
    log = (tmp_path / "controller.log").read_text(errors="replace")
    assert code == 0, log[-3000:]
    assert set(apps) == expected_applications(config)
    for app in apps.values():
        assert app["status"]["sync"]["revision"] == revision


@pytest.mark.realapi
@pytest.mark.anyio
async def test_scenario_registers_members_with_their_labels_through_the_cli(
    real_clusters: RealClusters, git_server: tuple[GitDaemon, str]
) -> None:
    from e2e.scenario.run import register_members
    from fleet.api.resources import CLUSTER
    from fleet.clusters.hub import hub_client
    from fleet.kube import request_json

    daemon, revision = git_server
    config = _config(real_clusters, daemon, revision)
    async with hub_client(config.hub_kubeconfig) as hub:
        from fleet.api.crds import install_crds

        await install_crds(hub, timeout=60.0)
        await register_members(config)
        listing = await request_json(hub, "GET", CLUSTER.collection(config.namespace))
    labels = {i["metadata"]["name"]: i["spec"].get("labels") for i in listing["items"]}
    assert labels == {
        m.name: {"env": m.labels["env"], "fleet.gitops.dev/e2e": "true"} for m in config.members
    }


@pytest.mark.realapi
def test_scenario_command_times_out_naming_every_laggard(
    real_clusters: RealClusters, git_server: tuple[GitDaemon, str]
) -> None:
    """`python -m e2e.scenario run`, as run.sh calls it; no controller watches this namespace,
    so nothing is ever generated and the command fails listing all four Applications."""
    daemon, revision = git_server
    config = _config(real_clusters, daemon, revision)
    members = [f"--member={m.name}={m.kubeconfig}" for m in config.members]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "e2e.scenario",
            "run",
            "--hub-kubeconfig",
            str(config.hub_kubeconfig),
            *members,
            "--repo-url",
            config.repo_url,
            "--namespace",
            config.namespace,
            "--install-crds",
            "--timeout",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"scenario failed: 4 of 4 Applications in {config.namespace}" in done.stderr
    for name in expected_applications(config):
        assert f"  {name}: not generated yet" in done.stderr


@pytest.mark.realapi
@pytest.mark.anyio
async def test_scenario_timeout_is_a_scenario_timeout(
    real_clusters: RealClusters, git_server: tuple[GitDaemon, str]
) -> None:
    daemon, revision = git_server
    config = _config(real_clusters, daemon, revision, timeout=2.0)
    with pytest.raises(ScenarioTimeout, match="after 2 s:\\n  api-"):
        await run_scenario(config)


# -- the scenario's pieces, no servers needed --------------------------------------------------


def test_expected_applications_are_every_app_on_every_member(tmp_path: Path) -> None:
    config = ScenarioConfig(
        hub_kubeconfig=tmp_path / "hub",
        members=[MemberSpec("m1", tmp_path / "m1"), MemberSpec("m2", tmp_path / "m2")],
        repo_url="git://example.invalid/config.git",
    )
    assert expected_applications(config) == {
        f"{app}-{member}" for app in APPS for member in ("m1", "m2")
    }


def test_example_repo_has_one_directory_per_app() -> None:
    dirs = {path.split("/")[1] for path in example_files() if path.startswith("apps/")}
    assert dirs == set(APPS)


def test_the_appset_renders_offline_to_the_expected_applications(tmp_path: Path) -> None:
    """`fleet appset render` over the written repo: the generators produce exactly the names
    the scenario waits for, each pointing at its member and directory."""
    base = tmp_path / "srv"
    write_repo(base)
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", str(base / "config.git"), str(clone)], check=True, timeout=60
    )
    config = ScenarioConfig(
        hub_kubeconfig=tmp_path / "hub",
        members=[MemberSpec("m1", tmp_path / "m1"), MemberSpec("m2", tmp_path / "m2")],
        repo_url="git://git.invalid/config.git",
    )
    (tmp_path / "appset.yaml").write_text(yaml.safe_dump(application_set(config)))
    clusters = [
        {
            "name": m.name,
            "server": f"https://{m.name}.invalid",
            "labels": {"fleet.gitops.dev/e2e": "true"},
        }
        for m in config.members
    ]
    (tmp_path / "clusters.yaml").write_text(yaml.safe_dump(clusters))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fleet.cli",
            "appset",
            "render",
            str(tmp_path / "appset.yaml"),
            "--clusters",
            str(tmp_path / "clusters.yaml"),
            "--repo",
            f"{config.repo_url}={clone}",
            "--no-in-cluster",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rendered = json.loads(done.stdout)
    items = rendered if isinstance(rendered, list) else rendered["items"]
    assert {i["metadata"]["name"] for i in items} == expected_applications(config)
    for item in items:
        app, member = item["metadata"]["name"].split("-", 1)
        assert item["spec"]["source"]["path"] == f"apps/{app}"
        assert item["spec"]["destination"]["name"] == member


def test_write_repo_command_prints_the_commit_of_main(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "e2e.scenario", "write-repo", str(tmp_path / "srv")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    bare = tmp_path / "srv" / "config.git"
    head = subprocess.run(
        ["git", "rev-parse", "refs/heads/main"],
        cwd=bare,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == head.stdout.strip()
    listed = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", "main"],
        cwd=bare,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert sorted(listed.stdout.split()) == sorted(example_files())


def test_laggard_is_none_only_when_synced_healthy_at_the_revision() -> None:
    ok = {
        "status": {"sync": {"status": "Synced", "revision": "abc"}, "health": {"status": "Healthy"}}
    }
    assert laggard(ok, "abc") is None
    assert laggard(ok, None) is None
    assert laggard(ok, "def") == "sync=Synced revision=abc health=Healthy"
    assert laggard(None, None) == "not generated yet"


def test_laggard_names_conditions_and_the_operation_message() -> None:
    app = {
        "status": {
            "sync": {"status": "OutOfSync"},
            "health": {"status": "Missing"},
            "conditions": [{"type": "ComparisonError", "message": "repo unreachable"}],
            "operationState": {"message": "one or more objects failed"},
        }
    }
    assert laggard(app, None) == (
        "sync=OutOfSync revision=- health=Missing "
        "conditions=[ComparisonError: repo unreachable] operation=one or more objects failed"
    )
