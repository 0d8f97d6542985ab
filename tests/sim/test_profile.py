"""Profiles: the minimal default, and the realistic member of Kubernetes 1.36 (kinds, objects)."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from fleet.sim import SimServer, fieldcheck
from fleet.sim.capture import CA_PLACEHOLDER, NOW_PLACEHOLDER, SECURE_PORT, normalize
from fleet.sim.profile import DATA_DIR, ProfileError, captured_discovery, get_profile
from tests.sim.conftest import Raw

pytestmark = pytest.mark.anyio

KUBECTL = "/usr/bin/kubectl"


@pytest.fixture
async def realistic() -> AsyncIterator[SimServer]:
    async with SimServer(2, status_delay=0.05, profile="realistic") as server:
        yield server


@pytest.fixture
async def rraw(realistic: SimServer) -> AsyncIterator[Raw]:
    cluster = realistic.clusters["cluster-1"]
    context = ssl.create_default_context(cafile=str(cluster.ca_file))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        yield Raw(cluster, session, cluster.token)


async def _names(raw: Raw, path: str) -> set[str]:
    code, body = await raw.request("GET", path)
    assert code == 200, body
    return {f"{i['metadata'].get('namespace', '')}/{i['metadata']['name']}" for i in body["items"]}


async def _watchable(raw: Raw) -> set[str]:
    """group/version/resource of every top-level resource with the watch verb."""
    out = set()
    _, core = await raw.request("GET", "/api/v1")
    lists = [core]
    _, groups = await raw.request("GET", "/apis")
    for group in groups["groups"]:
        for version in group["versions"]:
            _, listing = await raw.request("GET", f"/apis/{version['groupVersion']}")
            lists.append(listing)
    for listing in lists:
        for resource in listing["resources"]:
            if "/" not in resource["name"] and "watch" in resource["verbs"]:
                out.add(f"{listing['groupVersion']}/{resource['name']}")
    return out


async def test_the_default_profile_stays_minimal(raw: Raw) -> None:
    kinds = await _watchable(raw)
    assert len(kinds) == 24  # the kinds public guides deploy (HPA, CronJob, PDB, NetworkPolicy)
    assert "autoscaling/v2/horizontalpodautoscalers" in kinds
    assert "v1/nodes" not in kinds
    assert await _names(raw, "/api/v1/namespaces") == {
        "/default",
        "/kube-system",
        "/kube-public",
        "/kube-node-lease",
    }
    code, version = await raw.request("GET", "/version")
    assert code == 200 and version["minor"] == "32"


async def test_a_realistic_member_serves_every_watchable_kind_of_kube_1_36(rraw: Raw) -> None:
    found = captured_discovery()
    expected = {
        f"{gv}/{r['name']}"
        for gv, listing in found["resources"].items()
        for r in listing["resources"]
        if "/" not in r["name"] and "watch" in r["verbs"]
    }
    assert await _watchable(rraw) == expected
    assert len(expected) == 60
    code, version = await rraw.request("GET", "/version")
    assert code == 200 and version["gitVersion"] == "v1.36.3"
    for path in expected:  # each one lists through the generic machinery
        group_version, _, resource = path.rpartition("/")
        base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        code, body = await rraw.request("GET", f"{base}/{resource}")
        assert code == 200, (path, body)


async def test_a_realistic_member_starts_with_a_kind_clusters_objects(
    realistic: SimServer, rraw: Raw
) -> None:
    assert "/kind-control-plane" in await _names(rraw, "/api/v1/nodes")
    assert "kube-system/kube-dns" in await _names(rraw, "/api/v1/services")
    assert "default/kubernetes" in await _names(rraw, "/api/v1/endpoints")
    assert len(await _names(rraw, "/apis/rbac.authorization.k8s.io/v1/clusterroles")) >= 69
    assert len(await _names(rraw, "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas")) == 11
    code, deployment = await rraw.request(
        "GET", "/apis/apps/v1/namespaces/kube-system/deployments/coredns"
    )
    assert code == 200
    assert deployment["status"]["availableReplicas"] == 2
    assert deployment["metadata"]["generation"] == 1
    _, storage = await rraw.request("GET", "/apis/storage.k8s.io/v1/storageclasses/standard")
    assert storage["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"]
    _, root_ca = await rraw.request("GET", "/api/v1/namespaces/default/configmaps/kube-root-ca.crt")
    assert root_ca["data"]["ca.crt"] == realistic.ca_pem.decode()  # this server's CA
    total = 0
    for cluster in (realistic.clusters["cluster-1"],):
        state = cluster.state
        total = sum(len(state.store.items(gr)) for gr in state.store.resources())
    assert total >= 280


async def test_owner_references_name_the_clusters_own_objects_and_gc_follows_them(
    rraw: Raw,
) -> None:
    rs_path = "/apis/apps/v1/namespaces/kube-system/replicasets/coredns-7d764666f9"
    _, replicaset = await rraw.request("GET", rs_path)
    _, deployment = await rraw.request(
        "GET", "/apis/apps/v1/namespaces/kube-system/deployments/coredns"
    )
    assert replicaset["metadata"]["ownerReferences"][0]["uid"] == deployment["metadata"]["uid"]
    pods = "/api/v1/namespaces/kube-system/pods"
    coredns = {n for n in await _names(rraw, pods) if "coredns" in n}
    assert len(coredns) == 2
    code, _ = await rraw.request(
        "DELETE", "/apis/apps/v1/namespaces/kube-system/deployments/coredns"
    )
    assert code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not {n for n in await _names(rraw, pods) if "coredns" in n}:
            break
        await asyncio.sleep(0.05)
    assert not {n for n in await _names(rraw, pods) if "coredns" in n}
    code, _ = await rraw.request("GET", rs_path)
    assert code == 404


async def test_clusters_of_a_realistic_server_share_no_mutable_state(
    realistic: SimServer, rraw: Raw
) -> None:
    """Default objects share nested values between clusters: a write in one must not leak."""
    path = "/api/v1/namespaces/kube-system/configmaps/coredns"
    _, before = await rraw.request("GET", path)
    code, _ = await rraw.request(
        "PATCH",
        path,
        {"data": {"Corefile": "changed"}},
        content_type="application/merge-patch+json",
    )
    assert code == 200
    deploy = "/apis/apps/v1/namespaces/kube-system/deployments/coredns"
    code, body = await rraw.request(
        "PATCH",
        deploy,
        {"spec": {"template": {"spec": {"containers": [{"name": "coredns", "image": "x:2"}]}}}},
        content_type="application/strategic-merge-patch+json",
    )
    assert code == 200, body
    other = realistic.clusters["cluster-2"].state.api
    rt = other.registry.lookup("", "v1", "configmaps")
    assert rt is not None
    assert other.get(rt, "kube-system", "coredns")["data"] == before["data"]
    dep_rt = other.registry.lookup("apps", "v1", "deployments")
    assert dep_rt is not None
    theirs = other.get(dep_rt, "kube-system", "coredns")
    assert theirs["spec"]["template"]["spec"]["containers"][0]["image"].startswith("registry")
    mine = realistic.clusters["cluster-1"].state.api.get(dep_rt, "kube-system", "coredns")
    assert mine["metadata"]["uid"] != theirs["metadata"]["uid"]


async def test_kinds_only_the_realistic_profile_serves_are_served_generically(
    rraw: Raw,
) -> None:
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "busybox:1.36"}],
                        }
                    }
                }
            },
        },
    }
    base = "/apis/batch/v1/namespaces/default/cronjobs"
    headers = {"Authorization": f"Bearer {rraw.token}"}
    async with rraw.session.get(
        rraw.cluster.server + base,
        params={"watch": "true", "timeoutSeconds": "5"},
        headers=headers,
    ) as stream:
        code, body = await rraw.request(
            "PATCH",
            f"{base}/nightly",
            cronjob,
            content_type="application/apply-patch+yaml",
            params={"fieldManager": "test"},
        )
        assert code == 201, body
        assert body["metadata"]["generation"] == 1
        event = json.loads(await asyncio.wait_for(stream.content.readline(), 5))
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "nightly")
    assert await _names(rraw, base) == {"default/nightly"}
    policy = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "fast"},
        "provisioner": "example.com/fast",
    }
    code, body = await rraw.request("POST", "/apis/storage.k8s.io/v1/storageclasses", policy)
    assert code == 201, body
    assert "generation" not in body["metadata"]  # StorageClass does not track it (1.36)


async def test_an_unknown_profile_is_refused_naming_the_choices() -> None:
    with pytest.raises(ProfileError, match="minimal, realistic"):
        SimServer(1, profile="huge")


def test_profile_data_is_small_and_consistent() -> None:
    size = sum(p.stat().st_size for p in DATA_DIR.rglob("*") if p.is_file())
    assert size < 3 * 1024 * 1024
    profile = get_profile("realistic")
    templates = profile.templates(b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n")
    keys = [(t.gr, dict(t.head).get("namespace", ""), dict(t.head)["name"]) for t in templates]
    assert len(keys) == len(set(keys)), "two default objects with the same name"
    for template in templates:
        meta = dict(template.tail)
        assert "uid" not in meta and "resourceVersion" not in meta
        assert "{{sim:" not in json.dumps(template.obj)
        if "spec" in template.obj:  # (a bare ServiceAccount has none, as on the real server)
            assert meta.get("managedFields"), template.obj["kind"]
        rt = next(t for t in profile.types if t.gr == template.gr)
        stored = {**template.obj, "metadata": {**dict(template.head), **meta}}
        assert not fieldcheck.unknown_fields(rt, stored), (template.obj["kind"], meta)


def test_capture_strips_what_belongs_to_one_instance() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    captured = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "uid": "8e091add-3c77-4d63-93ef-d9ec33dccb53",
            "resourceVersion": "201",
            "creationTimestamp": "2026-12-05T16:37:50Z",
            "managedFields": [{"manager": "kube-apiserver"}],
            "labels": {"kubernetes.io/hostname": "capture-host"},
        },
        "spec": {"ports": [{"port": 443, "targetPort": 39039}], "note": pem},
        "status": {"conditions": [{"lastTransitionTime": "2026-12-05T16:37:50Z"}]},
    }
    out = normalize(captured, port=39039, hostname="capture-host")
    assert set(out["metadata"]) == {"name", "labels"}
    assert out["metadata"]["labels"]["kubernetes.io/hostname"] == "kind-control-plane"
    assert out["spec"]["ports"][0]["targetPort"] == SECURE_PORT
    assert out["spec"]["note"] == CA_PLACEHOLDER
    assert out["status"]["conditions"][0]["lastTransitionTime"] == NOW_PLACEHOLDER
    objects = json.loads(gzip.decompress((DATA_DIR / "objects.json.gz").read_bytes()))
    text = json.dumps(objects)
    assert "BEGIN CERTIFICATE" not in text and '"uid"' not in text


def _kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), "--request-timeout=10s", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.skipif(not os.access(KUBECTL, os.X_OK), reason="kubectl is not installed")
def test_fleet_sim_serve_profile_realistic_serves_a_kind_member(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fleet.cli",
            "sim",
            "serve",
            "--clusters",
            "1",
            "--profile",
            "realistic",
            "--kubeconfig-dir",
            str(tmp_path),
        ],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        line = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "serving" not in line:
            line = process.stderr.readline()
        assert "profile realistic" in line, line
        out = _kubectl(
            tmp_path / "cluster-1.kubeconfig", "get", "nodes,storageclasses", "-o", "name"
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == [
            "node/kind-control-plane",
            "storageclass.storage.k8s.io/standard",
        ]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
