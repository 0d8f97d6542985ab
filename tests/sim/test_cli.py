"""`fleet.sim.cli.serve`: kubeconfigs written, clusters served, clean exit on SIGTERM."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from fleet.cli import main


def _wait_until_serving(process: subprocess.Popen[str]) -> str:
    """The line announcing readiness ("" when none came within 20 s)."""
    assert process.stderr is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if "serving" in line:
            return line
    return ""


def _get(kubeconfig: Path, path: str) -> tuple[int, bytes]:
    """GET `path` of the kubeconfig's cluster with its CA and admin token."""
    config = yaml.safe_load(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    context = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
    )
    request = urllib.request.Request(
        cluster["server"] + path,
        headers={"Authorization": "Bearer " + config["users"][0]["user"]["token"]},
    )
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        return response.status, response.read()


def test_serve_writes_kubeconfigs_and_stops_on_sigterm(tmp_path: Path) -> None:
    code = (
        "from pathlib import Path; from fleet.sim.cli import serve; "
        f"serve(3, None, Path({str(tmp_path)!r}))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert "serving 3 cluster(s)" in _wait_until_serving(process)
        files = sorted(p.name for p in tmp_path.glob("*.kubeconfig"))
        assert "cluster-3.kubeconfig" in files
        config = yaml.safe_load((tmp_path / "cluster-2.kubeconfig").read_text())
        cluster = config["clusters"][0]["cluster"]
        assert cluster["server"].endswith("/clusters/cluster-2")
        assert cluster["certificate-authority-data"]
        assert config["users"][0]["user"]["token"].startswith("admin-")
        status, _ = _get(tmp_path / "cluster-2.kubeconfig", "/api/v1/namespaces/default")
        assert status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_faults_command_sets_and_clears_a_running_clusters_faults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fleet.cli",
            "sim",
            "serve",
            "--clusters",
            "2",
            "--kubeconfig-dir",
            str(tmp_path),
        ],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert _wait_until_serving(process)
        kubeconfig = tmp_path / "cluster-2.kubeconfig"
        assert main(["sim", "faults", "--kubeconfig", str(kubeconfig), "--error-rate", "1"]) == 0
        assert json.loads(capsys.readouterr().out)["error_rate"] == 1.0
        failing = subprocess.run(
            ["kubectl", "--kubeconfig", str(kubeconfig), "get", "configmaps"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        healthy = subprocess.run(
            ["kubectl", "--kubeconfig", str(tmp_path / "cluster-1.kubeconfig"), "get", "ns"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert failing.returncode != 0
        assert healthy.returncode == 0
        assert main(["sim", "faults", "--kubeconfig", str(kubeconfig), "--clear"]) == 0
        assert json.loads(capsys.readouterr().out)["error_rate"] == 0.0
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def test_serve_sends_bookmarks_at_the_interval_it_is_given(tmp_path: Path) -> None:
    """`--bookmark-interval 0.2`: a 4 s watch gets several bookmarks, where the default of 5 s
    would send none."""
    command = ["sim", "serve", "--kubeconfig-dir", str(tmp_path), "--bookmark-interval", "0.2"]
    process = subprocess.Popen(
        [sys.executable, "-m", "fleet.cli", *command],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert _wait_until_serving(process)
        _, body = _get(
            tmp_path / "cluster-1.kubeconfig",
            "/api/v1/configmaps?watch=1&allowWatchBookmarks=true&timeoutSeconds=4",
        )
        types = [json.loads(line)["type"] for line in body.splitlines() if line]
        assert types.count("BOOKMARK") >= 3
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


@pytest.mark.parametrize("interval", ["0", "-1", "inf", "soon"])
def test_serve_refuses_a_bookmark_interval_that_is_not_positive_seconds(
    interval: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sim", "serve", "--bookmark-interval", interval])
    assert exited.value.code == 2
    assert "--bookmark-interval" in capsys.readouterr().err
