"""The API servers the contract suite runs against: fleet.sim and a real kube-apiserver.

Both are started once per session in the background and handed to tests as a `Backend`: a URL,
the CA that signed its serving certificate, an admin token and a read-only token.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("FLEET_KUBE_BIN_DIR", ROOT / ".cache" / "bin"))
REQUIRE_REAL = os.environ.get("FLEET_REQUIRE_REAL_APISERVER") == "1"
"""Set by `make test`: a missing kube-apiserver build fails the run instead of skipping."""


@dataclass(frozen=True)
class Backend:
    name: str
    server: str
    ca_file: Path
    token: str
    readonly_token: str
    expire_history: Callable[[], object]
    """Forget the change history, as etcd compaction does, so old resourceVersions are gone."""


@contextmanager
def sim_backend() -> Iterator[Backend]:
    from anyio.from_thread import start_blocking_portal

    from fleet.sim import SimServer

    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(SimServer(clusters=1)) as sim,
    ):
        cluster = sim.clusters["cluster-1"]
        yield Backend(
            "sim",
            cluster.server,
            cluster.ca_file,
            cluster.token,
            cluster.readonly_token,
            lambda: portal.call(cluster.compact_history),
        )


@contextmanager
def real_backend() -> Iterator[Backend]:
    if not (BIN_DIR / "kube-apiserver").exists():
        message = f"no kube-apiserver in {BIN_DIR}: run `make kube-binaries` first"
        if REQUIRE_REAL:
            pytest.fail(message)
        pytest.skip(message)
    from e2e.realapi import RealClusters

    with tempfile.TemporaryDirectory(prefix="fleet-contract-") as workdir:
        clusters = RealClusters(members=0, workdir=Path(workdir), bin_dir=BIN_DIR)
        try:
            hub = clusters.start()[0]
            assert hub.token is not None
            yield Backend(
                "real",
                hub.server,
                hub.ca_file,
                hub.token,
                hub.readonly_token,
                clusters.compact_history,
            )
        finally:
            clusters.stop()
