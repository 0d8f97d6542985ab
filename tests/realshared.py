"""One real kube-apiserver harness for the whole test session: etcd, a hub and three members.

Why one: every package used to start its own (hub-only, hub + 1, hub + 2, hub + 3), all kept
until the session ended, so by the last package a dozen idle apiservers and five etcds competed
with the tests for two cores. Tests share it safely because each works in namespaces (and
Clusters, Applications) of its own, named with a random suffix. Packages that need a server to
themselves keep their own: tests/contract (it compacts etcd), tests/deploy (it installs RBAC
and runs the controller with only its ServiceAccount), tests/e2e_harness (it tests the harness).

Members run StatusAgents (as kube-controller-manager has no kubelet here, workloads would never
turn Ready): the controller suites judge health through them; the others do not look.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.clusters.harness import BIN_DIR, Env, Member, require_real

MEMBERS = 3


def _member(started: Any) -> Member:
    assert started.token is not None
    return Member(
        name=started.name,
        server=started.server,
        ca_pem=started.ca_file.read_bytes(),
        token=started.token,
        readonly_token=started.readonly_token,
        kubeconfig=started.kubeconfig,
        client_cert_pem=started.client_cert_file.read_bytes(),
        client_key_pem=started.client_key_file.read_bytes(),
    )


@contextmanager
def shared_real_env() -> Iterator[Env]:
    """Started once per session by the `shared_real` fixture (tests/conftest.py)."""
    from anyio.from_thread import start_blocking_portal

    from e2e.realapi import RealClusters
    from e2e.realapi.status_agent import StatusAgent
    from fleet.kube import Credentials, build_api_client

    require_real()
    with tempfile.TemporaryDirectory(prefix="fleet-real-") as workdir:
        harness = RealClusters(members=MEMBERS, workdir=Path(workdir), bin_dir=BIN_DIR)
        try:
            hub, *members = [_member(c) for c in harness.start()]
            with start_blocking_portal() as portal:
                clients: list[Any] = []
                agents = []
                for m in members:

                    async def build(m: Member = m) -> Any:
                        return build_api_client(
                            Credentials(server=m.server, token=m.token, ca_pem=m.ca_pem)
                        )

                    api = portal.call(build)
                    clients.append(api)
                    future, _ = portal.start_task(StatusAgent(api, delay=0.2).run)
                    agents.append(future)
                try:
                    yield Env("real", hub, members)
                finally:
                    for future in agents:
                        future.cancel()
                    for api in clients:
                        portal.call(api.close)
        finally:
            harness.stop()
