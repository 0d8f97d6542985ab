"""Test clusters for the registry tests: fleet.sim or the real kube-apiserver, one shape.

`Env` is a hub plus two members with their credentials; `running(env, namespace)` runs a
ClusterManager + HubRegistry against the hub for the duration of a test.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from fleet.api.cluster import PLURAL
from fleet.clusters.credentials import NO_EXEC, ExecPolicy
from fleet.clusters.manager import ClusterManager, ManagerSettings
from fleet.clusters.registry import HubRegistry
from fleet.kube import Conflict, Credentials, NotFound, build_api_client, request_json

ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = ROOT / "crds" / "cluster.yaml"
BIN_DIR = Path(os.environ.get("FLEET_KUBE_BIN_DIR") or ROOT / ".cache" / "bin")
REQUIRE_REAL = os.environ.get("FLEET_REQUIRE_REAL_APISERVER") == "1"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
FAST = ManagerSettings(
    probe_interval=0.2,
    probe_timeout=2.0,
    breaker_threshold=3,
    breaker_base=0.1,
    breaker_cap=0.5,
    status_refresh=5.0,
)


@dataclass(frozen=True)
class Member:
    name: str
    server: str
    ca_pem: bytes = field(repr=False)
    token: str = field(repr=False)
    readonly_token: str = field(repr=False)
    kubeconfig: Path
    client_cert_pem: bytes | None = field(default=None, repr=False)
    client_key_pem: bytes | None = field(default=None, repr=False)
    sim: Any = None
    """The SimCluster (faults) on the simulator, None on the real backend."""


@dataclass(frozen=True)
class Env:
    backend: str
    hub: Member
    members: list[Member]

    @property
    def secrets(self) -> list[str]:
        """Every credential of the environment: none may ever show up in output."""
        out: list[str] = []
        for m in [self.hub, *self.members]:
            out += [m.token, m.readonly_token]
        return out


@asynccontextmanager
async def simulated_env(directory: Path, members: list[str]) -> AsyncIterator[Env]:
    """A fleet.sim hub plus `members`, each cluster on a port of its own (so a refused
    cluster refuses connections like a dead server)."""
    from fleet.sim import SimServer

    async with SimServer(
        names=["hub", *members], port_per_cluster=True, kubeconfig_dir=directory
    ) as sim:
        made = [
            Member(
                name=c.name,
                server=c.server,
                ca_pem=base64.b64decode(c.ca_data),
                token=c.token,
                readonly_token=c.readonly_token,
                kubeconfig=c.kubeconfig,
                sim=c,
            )
            for c in sim.clusters.values()
        ]
        yield Env("sim", made[0], made[1:])


def require_real() -> None:
    if not (BIN_DIR / "kube-apiserver").exists():
        message = f"no kube-apiserver in {BIN_DIR}: run `make kube-binaries`"
        if REQUIRE_REAL:
            pytest.fail(message)
        pytest.skip(message)


def hub_client(env: Env) -> ApiClient:
    return build_api_client(
        Credentials(server=env.hub.server, token=env.hub.token, ca_pem=env.hub.ca_pem)
    )


async def install_crd(hub: ApiClient) -> None:
    """Create the Cluster CRD (idempotent) and wait until its resource is served."""
    crd = yaml.safe_load(CRD_FILE.read_text())
    with suppress(Conflict):
        await request_json(hub, "POST", CRD_PATH, body=crd)
    with anyio.fail_after(20):
        while True:
            try:
                await request_json(
                    hub, "GET", f"/apis/fleet.gitops.dev/v1alpha1/{PLURAL}", query={"limit": "1"}
                )
                return
            except NotFound:
                await anyio.sleep(0.1)


async def create_namespace(hub: ApiClient, prefix: str = "fleet") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    await request_json(hub, "POST", "/api/v1/namespaces", body={"metadata": {"name": name}})
    return name


def b64(data: Mapping[str, bytes | str]) -> dict[str, str]:
    return {
        k: base64.b64encode(v.encode() if isinstance(v, str) else v).decode()
        for k, v in data.items()
    }


async def put_secret(
    hub: ApiClient,
    namespace: str,
    name: str,
    data: Mapping[str, bytes | str],
    labels: Mapping[str, str] | None = None,
) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "data": b64(data),
    }
    path = f"/api/v1/namespaces/{namespace}/secrets"
    try:
        await request_json(hub, "POST", path, body=body)
    except Conflict:
        await request_json(hub, "PUT", f"{path}/{name}", body=body)


async def put_cluster(
    hub: ApiClient,
    namespace: str,
    name: str,
    server: str,
    secret: str,
    labels: Mapping[str, str] | None = None,
) -> None:
    body = {
        "apiVersion": "fleet.gitops.dev/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"server": server, "secretRef": {"name": secret}, "labels": dict(labels or {})},
    }
    await request_json(
        hub, "POST", f"/apis/fleet.gitops.dev/v1alpha1/namespaces/{namespace}/clusters", body=body
    )


async def get_cluster(hub: ApiClient, namespace: str, name: str) -> dict[str, Any]:
    path = f"/apis/fleet.gitops.dev/v1alpha1/namespaces/{namespace}/clusters/{name}"
    obj: dict[str, Any] = await request_json(hub, "GET", path)
    return obj


def condition(obj: Mapping[str, Any], kind: str) -> dict[str, Any]:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return {}


async def wait_cluster(
    hub: ApiClient,
    namespace: str,
    name: str,
    predicate: Callable[[dict[str, Any]], bool],
    timeout: float = 15.0,
) -> dict[str, Any]:
    """Poll the Cluster on the hub until `predicate(obj)`; fail with its last status."""
    obj: dict[str, Any] = {}
    try:
        with anyio.fail_after(timeout):
            while True:
                obj = await get_cluster(hub, namespace, name)
                if predicate(obj):
                    return obj
                await anyio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"cluster {name} never matched; last status {obj.get('status')}")


def ready(obj: Mapping[str, Any]) -> bool:
    return condition(obj, "Ready").get("status") == "True"


def reason_is(reason: str, kind: str = "Ready") -> Callable[[dict[str, Any]], bool]:
    return lambda obj: condition(obj, kind).get("reason") == reason


@asynccontextmanager
async def running(
    env: Env,
    namespace: str,
    settings: ManagerSettings = FAST,
    *,
    exec_policy: ExecPolicy = NO_EXEC,
    owns: Callable[[str], bool] | None = None,
) -> AsyncIterator[tuple[ClusterManager, HubRegistry]]:
    """A manager + hub registry watching `namespace`, for the body of a test (exec plugins
    run only if `exec_policy` allows them, as in the controller; `owns`: the clusters of this
    replica's shards, None for all)."""
    async with hub_client(env) as hub:
        registry = HubRegistry(hub, namespace, watch_timeout=30, exec_policy=exec_policy, owns=owns)
        async with ClusterManager(settings, registry.write_status) as manager:
            registry.attach(manager)
            async with anyio.create_task_group() as tg:
                tg.start_soon(registry.run)
                yield manager, registry
                tg.cancel_scope.cancel()
