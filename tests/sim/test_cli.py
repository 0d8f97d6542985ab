"""`fleet.sim.cli.serve`: kubeconfigs written, clusters served, clean exit on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml


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
