"""The real kubectl (built with the Kubernetes binaries by `make kube-binaries`) run against a
test hub, for tests that must hold with the client platform teams actually type into."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.clusters.harness import BIN_DIR, REQUIRE_REAL

KUBECTL = BIN_DIR / "kubectl"


def require_kubectl() -> None:
    """Skip the calling test without kubectl, or fail it where the real binaries are required."""
    if not KUBECTL.exists():
        message = f"no kubectl in {BIN_DIR}: run `make kube-binaries` (e2e/apiserver/build.sh)"
        if REQUIRE_REAL:
            pytest.fail(message)
        pytest.skip(message)


async def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    """`kubectl --kubeconfig KUBECONFIG ARGS...`: (exit code, stdout and stderr together).

    The discovery cache sits beside the kubeconfig: kubectl's default (~/.kube/cache) is keyed by
    host:port, which a later test's API server may reuse with other resources (a fleet hub's
    Application where an Argo CD hub's was), and a stale mapping answers 404."""
    process = await asyncio.create_subprocess_exec(
        str(KUBECTL),
        "--kubeconfig",
        str(kubeconfig),
        f"--cache-dir={kubeconfig.parent / '.kube-cache'}",
        "--request-timeout=20s",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(stdin.encode() if stdin else None), 60)
    return process.returncode or 0, out.decode()
