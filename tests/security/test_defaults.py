"""Defaults a new user meets: `fleet controller run` works from any working directory.

A default that is a relative path means "wherever the process happened to start": the git
cache then breaks (git runs in other directories) and a render tool is looked up in whatever
`.cache/bin` the current directory holds. These tests start the real process elsewhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from fleet.render.tools import RenderTools
from tests.clusters.harness import simulated_env
from tests.controllers.harness import Scenario, stop_process, wait_ready
from tests.git.support import free_port

pytestmark = pytest.mark.anyio


@pytest.fixture
async def scenario(tmp_path: Path) -> AsyncIterator[Scenario]:
    async with (
        simulated_env(tmp_path / "sim", ["m1"]) as env,
        Scenario.open(env, tmp_path / "scenario") as made,
    ):
        yield made


async def test_the_controller_started_elsewhere_with_default_flags_generates_applications(
    scenario: Scenario, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    xdg = tmp_path / "xdg-cache"
    port = free_port()
    await scenario.register(scenario.member(0))
    command = [
        sys.executable,
        "-m",
        "fleet.cli",
        "controller",
        "run",
        "--hub-kubeconfig",
        str(scenario.kubeconfig_of_hub()),
        "--namespace",
        scenario.namespace,
        "--listen",
        f"127.0.0.1:{port}",  # not the default 0.0.0.0:8080: tests run side by side
        "--health-listen",
        "127.0.0.1:0",
    ]
    environment = {**os.environ, "XDG_CACHE_HOME": str(xdg)}
    with (tmp_path / "controller.log").open("ab") as log:
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=environment, cwd=elsewhere
        )
    try:
        await wait_ready(port)
        await scenario.apply_appset(scenario.appset())
        await scenario.wait_apps(
            lambda apps: {"web-m1", "api-m1"} <= set(apps),
            timeout=60,
            what="the ApplicationSet's Applications (git fetched into the default cache)",
        )
    finally:
        code = await anyio.to_thread.run_sync(stop_process, proc)
    assert code == 0, (tmp_path / "controller.log").read_text()[-3000:]
    assert (xdg / "fleet" / "controller").is_dir()
    assert list(elsewhere.iterdir()) == []  # nothing written where the process was started


def test_render_tools_are_not_looked_up_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `.cache/bin/helm` in whatever directory the controller starts in is never run."""
    planted = tmp_path / ".cache" / "bin" / "helm"
    planted.parent.mkdir(parents=True)
    planted.write_text("#!/bin/sh\necho planted\n")
    planted.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLEET_RENDER_BIN_DIR", raising=False)
    tools = RenderTools.discover(path="")
    assert tools.helm != planted.resolve()
