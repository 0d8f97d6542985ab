"""`fleet.sim.cli.serve`: kubeconfigs written, clusters served, clean exit on SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fleet.cli import main


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
        assert process.stderr is not None
        deadline = time.monotonic() + 20
        line = ""
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if "serving 3 cluster(s)" in line:
                break
        assert "serving 3 cluster(s)" in line
        files = sorted(p.name for p in tmp_path.glob("*.kubeconfig"))
        assert "cluster-3.kubeconfig" in files
        config = yaml.safe_load((tmp_path / "cluster-2.kubeconfig").read_text())
        cluster = config["clusters"][0]["cluster"]
        assert cluster["server"].endswith("/clusters/cluster-2")
        assert cluster["certificate-authority-data"]
        assert config["users"][0]["user"]["token"].startswith("admin-")
        import base64
        import ssl
        import urllib.request

        context = ssl.create_default_context(
            cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
        )
        request = urllib.request.Request(
            cluster["server"] + "/api/v1/namespaces/default",
            headers={"Authorization": "Bearer " + config["users"][0]["user"]["token"]},
        )
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            assert response.status == 200
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
        assert process.stderr is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "serving" not in process.stderr.readline():
            pass
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
