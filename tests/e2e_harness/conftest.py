"""Fixtures for the real-apiserver harness tests: one hub + two members per test module.

The servers are built by `make kube-binaries` (e2e/apiserver/build.sh) into .cache/bin, or into
the directory named by FLEET_KUBE_BIN_DIR. Without them every `realapi` test is skipped with a
message saying so, so `pytest` still passes on a machine that has not built them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.realapi import DEFAULT_BIN_DIR, BinariesMissingError, RealClusters, find_binaries


def pytest_configure(config: pytest.Config) -> None:
    # Registered here as well as (after integration) in pyproject.toml, so --strict-markers
    # accepts the marker whichever lands first.
    config.addinivalue_line(
        "markers", "realapi: needs kube-apiserver and etcd built into .cache/bin (slow start)"
    )
    config.addinivalue_line(
        "markers", "kind: needs the kind harness (root, apt-get, go); skips saying why otherwise"
    )


def kube_bin_dir() -> Path:
    """Where the binaries are looked for: $FLEET_KUBE_BIN_DIR or .cache/bin."""
    return Path(os.environ.get("FLEET_KUBE_BIN_DIR") or DEFAULT_BIN_DIR)


def require_binaries() -> Path:
    """The bin dir, or skip the test with the reason and the command that fixes it.

    With FLEET_REQUIRE_REAL_APISERVER=1 (set by `make test`, which builds the binaries first)
    a missing build fails instead: CI must not pass by skipping the real-server tests.
    """
    bin_dir = kube_bin_dir()
    try:
        find_binaries(bin_dir)
    except BinariesMissingError as exc:
        if os.environ.get("FLEET_REQUIRE_REAL_APISERVER") == "1":
            pytest.fail(str(exc))
        pytest.skip(f"real API server tests skipped: {exc}")
    return bin_dir


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def real_clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealClusters]:
    """A started hub + 2 members, stopped when the module's tests are done."""
    bin_dir = require_binaries()
    harness = RealClusters(2, tmp_path_factory.mktemp("realapi"), bin_dir)
    try:
        harness.start()
        yield harness
    finally:
        harness.stop()
