"""Fixtures: a fleet.sim hub (fleet's CRDs installed) and one member, and `fleet app` runs.

The CLI starts its own event loop, so tests run it in a worker thread while the test's loop
keeps serving the simulated clusters (and can play the controller meanwhile).
"""

from __future__ import annotations

import base64
import logging
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
import structlog
from kubernetes_asyncio.client import ApiClient

from fleet.api.crds import install_crds
from fleet.api.resources import API_VERSION, APPLICATION
from fleet.appcli.commands import main
from fleet.kube import Credentials, build_api_client, request_json
from fleet.sim import SimServer
from tests.clusters.harness import Env


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class _Stderr:
    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


@pytest.fixture(autouse=True)
def _logs_to_stderr() -> Iterator[None]:
    """As `fleet` configures it: logs on stderr (stdout is the command's data), warnings up."""
    saved = structlog.get_config()
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
    )
    yield
    structlog.configure(**saved)


@dataclass
class Hub:
    api: ApiClient
    namespace: str
    """A fresh hub namespace per test (the real backend is shared by the session)."""
    kubeconfig: Path
    member_server: str
    member_token: str
    member_ca: bytes
    tokens: list[str]
    """Every credential in the environment: none may show up in any output."""
    sim: SimServer | None = None
    """The simulator (fault injection) on the sim backend; None on the real one."""

    def args(self) -> list[str]:
        return ["--hub-kubeconfig", str(self.kubeconfig), "--namespace", self.namespace]

    def faults(self) -> SimServer:
        if self.sim is None:
            pytest.skip("fault injection needs fleet.sim")
        return self.sim


@dataclass(frozen=True)
class Endpoint:
    server: str
    token: str = field(repr=False)
    readonly_token: str = field(repr=False)
    ca_pem: bytes = field(repr=False)
    kubeconfig: Path


@pytest.fixture(scope="session")
def real_endpoints(shared_real: Env) -> tuple[Endpoint, Endpoint]:
    """The session's real hub and its first member (tests/realshared.py)."""
    h, m = (
        Endpoint(c.server, c.token, c.readonly_token, c.ca_pem, c.kubeconfig)
        for c in (shared_real.hub, shared_real.members[0])
    )
    return h, m


async def _sim_endpoints(tmp_path: Path) -> AsyncIterator[tuple[SimServer, Endpoint, Endpoint]]:
    async with SimServer(
        names=["hub", "member"], port_per_cluster=True, kubeconfig_dir=tmp_path / "kube"
    ) as server:
        h, m = (
            Endpoint(c.server, c.token, c.readonly_token, base64.b64decode(c.ca_data), c.kubeconfig)
            for c in (server.clusters["hub"], server.clusters["member"])
        )
        yield server, h, m


@pytest.fixture(params=["sim", "real"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Hub]:
    """fleet's CRDs on the hub, a fresh namespace, and a member cluster (not yet registered)."""
    if request.param == "real":
        hub_end, member = request.getfixturevalue("real_endpoints")
        async for made in _hub(hub_end, member, None):
            yield made
        return
    async for sim, hub_end, member in _sim_endpoints(tmp_path):
        async for made in _hub(hub_end, member, sim):
            yield made


async def _hub(h: Endpoint, m: Endpoint, sim: SimServer | None) -> AsyncIterator[Hub]:
    async with build_api_client(
        Credentials(server=h.server, token=h.token, ca_pem=h.ca_pem)
    ) as api:
        await install_crds(api)
        namespace = f"fleet-{uuid.uuid4().hex[:8]}"
        await request_json(
            api, "POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}}
        )
        yield Hub(
            api,
            namespace,
            h.kubeconfig,
            m.server,
            m.token,
            m.ca_pem,
            [h.token, h.readonly_token, m.token, m.readonly_token],
            sim,
        )


async def fleet_app(*argv: str) -> int:
    """`fleet app ARGV...` in a worker thread; the exit code."""
    return await anyio.to_thread.run_sync(main, ["app", *argv])


def application(
    name: str,
    namespace: str,
    *,
    repo: str = "https://git.example.com/apps.git",
    path: str = "guestbook",
    target: str = "main",
    destination: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    automated: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "project": "default",
        "source": {"repoURL": repo, "path": path, "targetRevision": target},
        "destination": dict(destination or {"name": "member", "namespace": "guestbook"}),
    }
    if automated:
        spec["syncPolicy"] = {"automated": {"prune": True, "selfHeal": True}}
    return {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "spec": spec,
    }


async def put_app(
    hub: Hub, body: dict[str, Any], status: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Create an Application; with `status`, write it through the subresource as the
    controller does."""
    name = body["metadata"]["name"]
    created: dict[str, Any] = await request_json(
        hub.api, "POST", APPLICATION.collection(hub.namespace), body=body
    )
    if status is not None:
        created = await write_status(hub, name, status)
    return created


async def write_status(hub: Hub, name: str, status: Mapping[str, Any]) -> dict[str, Any]:
    obj: dict[str, Any] = await request_json(
        hub.api,
        "PATCH",
        APPLICATION.status(hub.namespace, name),
        body={"status": dict(status)},
        content_type="application/merge-patch+json",
    )
    return obj


async def get_app(hub: Hub, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = await request_json(hub.api, "GET", APPLICATION.item(hub.namespace, name))
    return obj


SHA1 = "0123456789abcdef0123456789abcdef01234567"
SHA2 = "89abcdef0123456789abcdef0123456789abcdef"


def synced_status(revision: str = SHA1) -> dict[str, Any]:
    """A status as the controller writes it after a successful sync of two objects."""
    return {
        "sync": {"status": "Synced", "revision": revision},
        "health": {"status": "Healthy"},
        "resources": [
            {
                "version": "v1",
                "kind": "ConfigMap",
                "namespace": "guestbook",
                "name": "settings",
                "status": "Synced",
                "health": {"status": "Healthy"},
            },
            {
                "group": "apps",
                "version": "v1",
                "kind": "Deployment",
                "namespace": "guestbook",
                "name": "web",
                "status": "OutOfSync",
                "health": {"status": "Progressing"},
            },
        ],
        "operationState": {
            "operation": {"sync": {"revision": revision}},
            "phase": "Succeeded",
            "message": "successfully synced (all tasks run)",
            "startedAt": "2026-11-20T10:00:00Z",
            "finishedAt": "2026-11-20T10:00:05Z",
            "syncResult": {"revision": revision},
        },
        "history": [
            {
                "id": 0,
                "revision": SHA2,
                "deployedAt": "2026-11-19T09:00:10Z",
                "deployStartedAt": "2026-11-19T09:00:00Z",
                "source": {"repoURL": "https://git.example.com/apps.git", "targetRevision": "main"},
            },
            {
                "id": 1,
                "revision": revision,
                "deployedAt": "2026-11-20T10:00:05Z",
                "deployStartedAt": "2026-11-20T10:00:00Z",
                "source": {"repoURL": "https://git.example.com/apps.git", "targetRevision": "main"},
            },
        ],
        "conditions": [
            {
                "type": "SyncError",
                "message": "one object failed",
                "lastTransitionTime": "2026-11-20T10:00:05Z",
            }
        ],
    }
