"""The realistic profile against the real server it was captured from, side by side.

Unlike the rest of the contract suite (each behaviour once per backend), these tests start a
realistic fleet.sim cluster and a real kube-apiserver v1.36.3 together and compare what a
client reads from each: the watchable kinds and their discovery entries, the default objects
(the real server's are a subset of the profile's; the rest are the hand-made kubeadm/kind
objects of `kubeadm.yaml`), and the OpenAPI documents of CRDs (fleet's, and one using every
schema feature the real server's OpenAPI builder treats specially), to the byte for protobuf.
"""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
import yaml

from fleet.sim import openapi_pb
from fleet.sim.profile import DATA_DIR
from tests.contract.backends import Backend, real_backend

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
FLEET_GV = "apis/fleet.gitops.dev/v1alpha1"
#: objects of the harness itself, not of a cluster (its read-only credentials)
HARNESS = {"serviceaccounts/kube-system/fleet-readonly", "clusterrolebindings//fleet-readonly-view"}
#: the apiserver's identity Lease is named after a hash of the machine's host name
_IDENTITY_LEASE = re.compile(r"leases/kube-system/apiserver-[a-z0-9]+")
_HPA_V1 = ("autoscaling/v1", "horizontalpodautoscalers")


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def real() -> Iterator[Backend]:
    with real_backend() as started:
        yield started


@pytest.fixture(scope="module")
def sim() -> Iterator[Backend]:
    from anyio.from_thread import start_blocking_portal

    from fleet.sim import SimServer

    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(SimServer(1, profile="realistic")) as server,
    ):
        cluster = server.clusters["cluster-1"]
        yield Backend(
            "sim-realistic",
            cluster.server,
            cluster.ca_file,
            cluster.token,
            cluster.readonly_token,
            lambda: None,
        )


class Client:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def raw(self, path: str, accept: str = "application/json") -> bytes:
        async with self.session.get(path.lstrip("/"), headers={"Accept": accept}) as response:
            assert response.status == 200, (path, response.status)
            return await response.read()

    async def json(self, path: str) -> Any:
        return json.loads(await self.raw(path))


async def _client(backend: Backend) -> aiohttp.ClientSession:
    context = ssl.create_default_context(cafile=str(backend.ca_file))
    return aiohttp.ClientSession(
        base_url=backend.server.rstrip("/") + "/",
        headers={"Authorization": f"Bearer {backend.token}"},
        connector=aiohttp.TCPConnector(ssl=context),
        timeout=aiohttp.ClientTimeout(total=60),
    )


@pytest.fixture
async def pair(real: Backend, sim: Backend) -> AsyncIterator[tuple[Client, Client]]:
    async with await _client(real) as real_session, await _client(sim) as sim_session:
        yield Client(real_session), Client(sim_session)


async def _resources(client: Client) -> dict[str, dict[str, Any]]:
    """`group-version/resource` -> discovery entry, for every watchable top-level resource."""
    lists = [await client.json("api/v1")]
    for group in (await client.json("apis"))["groups"]:
        for version in group["versions"]:
            lists.append(await client.json(f"apis/{version['groupVersion']}"))
    out = {}
    for listing in lists:
        for entry in listing["resources"]:
            if "/" not in entry["name"] and "watch" in entry["verbs"]:
                out[f"{listing['groupVersion']}/{entry['name']}"] = entry
    return out


async def test_the_realistic_profile_serves_the_real_servers_watchable_kinds(
    pair: tuple[Client, Client],
) -> None:
    real, sim = pair
    real_kinds, sim_kinds = await _resources(real), await _resources(sim)
    assert set(sim_kinds) == set(real_kinds)
    keys = ("kind", "namespaced", "singularName", "shortNames", "categories")
    for name, entry in real_kinds.items():
        theirs = {k: entry.get(k) for k in keys}
        mine = {k: sim_kinds[name].get(k) for k in keys}
        assert mine == theirs, name
        assert sorted(sim_kinds[name]["verbs"]) == sorted(entry["verbs"]), name


async def _objects(client: Client, kinds: dict[str, dict[str, Any]]) -> set[str]:
    out = set()
    for path in kinds:
        group_version, _, resource = path.rpartition("/")
        if resource == "events" or (group_version, resource) == (
            "autoscaling/v1",
            "horizontalpodautoscalers",
        ):
            continue  # events come and go; HPAs are listed once, at autoscaling/v2
        base = "api/v1" if group_version == "v1" else f"apis/{group_version}"
        for item in (await client.json(f"{base}/{resource}"))["items"]:
            meta = item["metadata"]
            key = f"{resource}/{meta.get('namespace', '')}/{meta['name']}"
            out.add(_IDENTITY_LEASE.sub("leases/kube-system/apiserver-*", key))
    return out


def _hand_made() -> set[str]:
    items = yaml.safe_load((DATA_DIR / "kubeadm.yaml").read_text())["items"]
    plural = {"Endpoints": "endpoints", "StorageClass": "storageclasses", "Lease": "leases"}
    return {
        f"{plural.get(i['kind'], i['kind'].lower() + 's')}/"
        f"{i['metadata'].get('namespace', '')}/{i['metadata']['name']}"
        for i in items
    }


async def test_the_realistic_profile_holds_the_real_servers_default_objects(
    pair: tuple[Client, Client],
) -> None:
    real, sim = pair
    kinds = await _resources(real)
    sim_objects = await _objects(sim, kinds)
    hand_made = _hand_made()
    expected = sim_objects - hand_made
    # the controller-manager publishes kube-root-ca.crt and the default ServiceAccounts a
    # little after the server is ready (later still on a busy machine): wait, bounded
    real_objects: set[str] = set()
    with anyio.move_on_after(60):
        while (real_objects := await _objects(real, kinds) - HARNESS) != expected:
            await anyio.sleep(0.5)
    assert not hand_made & real_objects, "a hand-made object the real server makes itself"
    assert real_objects == expected


async def _install_fleet_crds(client: Client) -> None:
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        async with client.session.post(
            "apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd
        ) as response:
            assert response.status in (201, 409), await response.text()


async def _published(
    client: Client, group_version: str, marker: str, kinds: int
) -> tuple[dict[str, Any], dict[str, Any], dict[str, bytes]]:
    """A CRD group-version's v3 document, and the v2 definitions (JSON and protobuf) whose
    names contain `marker`, once `kinds` kinds (with their lists) are published."""
    with anyio.fail_after(60):
        while True:
            index = (await client.json("openapi/v3"))["paths"]
            if group_version in index:
                v3 = await client.json(index[group_version]["serverRelativeURL"])
                names = [k for k in v3["components"]["schemas"] if marker in k]
                definitions = {
                    k: v
                    for k, v in (await client.json("openapi/v2"))["definitions"].items()
                    if marker in k
                }
                if len(names) == 2 * kinds and len(definitions) >= 2 * kinds:
                    break
            await anyio.sleep(0.5)
    protobuf: dict[str, bytes] = {}
    for number, payload in openapi_pb.fields(await client.raw("openapi/v2", PROTOBUF)):
        if number == openapi_pb.DOCUMENT_DEFINITIONS:
            for _, named in openapi_pb.fields(payload):
                parts = dict(openapi_pb.fields(named))
                if marker.encode() in parts[1]:
                    protobuf[parts[1].decode()] = parts[2]
    return v3, definitions, protobuf


async def test_fleets_crds_get_the_real_servers_openapi_documents(
    pair: tuple[Client, Client],
) -> None:
    real, sim = pair
    await _install_fleet_crds(real)
    await _install_fleet_crds(sim)
    real_v3, real_v2, real_pb = await _published(real, FLEET_GV, "gitops", 4)
    sim_v3, sim_v2, sim_pb = await _published(sim, FLEET_GV, "gitops", 4)
    assert sim_v3 == real_v3
    assert sim_v2 == real_v2
    assert sim_pb == real_pb  # byte for byte: client-go decodes this


FEATURES = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: features.features.contract.fleet.dev}
spec:
  group: features.contract.fleet.dev
  scope: Namespaced
  names: {plural: features, singular: feature, kind: Feature, shortNames: [feat]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    schema:
      openAPIV3Schema:
        type: object
        description: Every schema feature the OpenAPI builder treats specially.
        properties:
          spec:
            type: object
            required: [mode, note]
            x-kubernetes-validations:
            - rule: "self.mode != 'off' || !has(self.port)"
              message: port is set only when 'on'
            properties:
              mode: {type: string, enum: ["on", "off", "True"], default: "on"}
              port: {x-kubernetes-int-or-string: true}
              ratio:
                x-kubernetes-int-or-string: true
                anyOf: [{minimum: 1}, {pattern: "^[0-9]+%$"}]
              note: {type: string, nullable: true, description: "line one\\nline two"}
              replicas: {type: integer, format: int32, minimum: 0, maximum: 10}
              labels:
                type: object
                additionalProperties: {type: string}
                x-kubernetes-map-type: granular
              entries:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties: {name: {type: string}, weight: {type: integer, default: 1}}
              raw:
                type: object
                x-kubernetes-preserve-unknown-fields: true
                properties: {known: {type: string}}
              template:
                type: object
                x-kubernetes-embedded-resource: true
                x-kubernetes-preserve-unknown-fields: true
              pod:
                type: object
                x-kubernetes-embedded-resource: true
                properties: {spec: {type: object, x-kubernetes-preserve-unknown-fields: true}}
              choice:
                type: object
                oneOf: [{required: [a]}, {required: [b]}]
                properties: {a: {type: string}, b: {type: string}}
              tags: {type: array, items: {type: string}, maxItems: 5}
          status:
            type: object
            properties: {replicas: {type: integer}}
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""


async def test_every_crd_schema_feature_gets_the_real_servers_openapi_documents(
    pair: tuple[Client, Client],
) -> None:
    crd = yaml.safe_load(FEATURES)
    for client in pair:
        async with client.session.post(
            "apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd
        ) as response:
            assert response.status == 201, await response.text()
    real, sim = pair
    for version in ("v1", "v1beta1"):
        group_version = f"apis/features.contract.fleet.dev/{version}"
        marker = f"dev.fleet.contract.features.{version}."
        real_v3, real_v2, real_pb = await _published(real, group_version, marker, 1)
        sim_v3, sim_v2, sim_pb = await _published(sim, group_version, marker, 1)
        assert sim_v3 == real_v3, version
        assert sim_v2 == real_v2, version
        assert sim_pb == real_pb, version
