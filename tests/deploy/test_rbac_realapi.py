"""The install manifests on a real kube-apiserver: they apply, and their RBAC is least privilege.

One real hub per module (etcd + kube-apiserver, no members). The CRDs from crds/ and the rendered
base are applied server-side with strict field validation, as `kubectl apply --server-side`
would; then SubjectAccessReviews ask the apiserver's own RBAC authorizer what the controller's
ServiceAccount may do, and a TokenRequest token for that ServiceAccount makes real calls; finally
`fleet controller run` itself runs with that token (what in-cluster config would give it) and
must become ready, i.e. every list and watch it starts with is allowed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from fleet.kube import (
    Credentials,
    Forbidden,
    NotFound,
    TooManyRequests,
    build_api_client,
    request_json,
)
from tests.clusters.harness import BIN_DIR, require_real
from tests.deploy.manifests import (
    CONTROLLER_USER,
    FLEET_GROUP,
    NAMESPACE,
    NEEDED,
    SERVICE_ACCOUNT,
    Obj,
    crd_documents,
    render_base,
)

pytestmark = pytest.mark.realapi

FIELD_MANAGER = "fleet-deploy-tests"
CALL_TIMEOUT = 15.0
ESTABLISH_TIMEOUT = 30.0
SA_GROUPS = [
    "system:serviceaccounts",
    f"system:serviceaccounts:{NAMESPACE}",
    "system:authenticated",
]
"""The groups a real token of the ServiceAccount carries: a denial must hold with them too."""

_PATHS = {
    # kind -> (API prefix, plural, namespaced)
    "CustomResourceDefinition": (
        "/apis/apiextensions.k8s.io/v1",
        "customresourcedefinitions",
        False,
    ),
    "Namespace": ("/api/v1", "namespaces", False),
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "Service": ("/api/v1", "services", True),
    "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "Deployment": ("/apis/apps/v1", "deployments", True),
}


@dataclass(frozen=True)
class Hub:
    server: str
    ca_file: Path
    ca_pem: bytes = field(repr=False)
    admin_token: str = field(repr=False)
    controller_token: str = field(repr=False)
    """A TokenRequest token of fleet-system/fleet-controller, the Deployment's identity."""
    applied: list[Obj] = field(repr=False)


def item_path(obj: Obj) -> str:
    """The REST path of one object of a kind the base or crds/ contains."""
    kind = obj["kind"]
    assert kind in _PATHS, f"tests/deploy does not know the REST path of {kind}: add it to _PATHS"
    prefix, plural, namespaced = _PATHS[kind]
    meta = obj["metadata"]
    if namespaced:
        return f"{prefix}/namespaces/{meta['namespace']}/{plural}/{meta['name']}"
    return f"{prefix}/{plural}/{meta['name']}"


async def apply(api: ApiClient, obj: Obj) -> Obj:
    """Server-side apply with strict field validation: a misspelt field is an error."""
    result: Obj = await request_json(
        api,
        "PATCH",
        item_path(obj),
        body=obj,
        query={"fieldManager": FIELD_MANAGER, "force": "true", "fieldValidation": "Strict"},
        content_type="application/apply-patch+yaml",
        timeout=CALL_TIMEOUT,
    )
    return result


async def wait_served(api: ApiClient, crd: Obj) -> None:
    with anyio.fail_after(ESTABLISH_TIMEOUT):
        while True:
            live = await request_json(api, "GET", item_path(crd), timeout=CALL_TIMEOUT)
            # A CRD just created answers "conditions": null until its controller writes them.
            conditions = (live.get("status") or {}).get("conditions") or []
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                break
            await anyio.sleep(0.1)
        # Established is not yet served: the first lists may still answer 404 or 429
        # ("storage is (re)initializing").
        spec = crd["spec"]
        version = next(v["name"] for v in spec["versions"] if v.get("served"))
        collection = f"/apis/{spec['group']}/{version}/{spec['names']['plural']}"
        while True:
            try:
                await request_json(
                    api, "GET", collection, query={"limit": "1"}, timeout=CALL_TIMEOUT
                )
                return
            except (NotFound, TooManyRequests):
                await anyio.sleep(0.1)


async def install(server: str, ca_pem: bytes, token: str, objects: list[Obj]) -> str:
    """Apply crds/*.yaml, then the base; return a token for the controller's ServiceAccount."""
    async with build_api_client(Credentials(server=server, token=token, ca_pem=ca_pem)) as api:
        crds = crd_documents()
        for crd in crds:
            await apply(api, crd)
        for crd in crds:
            await wait_served(api, crd)
        for obj in objects:
            await apply(api, obj)
        reply = await request_json(
            api,
            "POST",
            f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{SERVICE_ACCOUNT}/token",
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
            timeout=CALL_TIMEOUT,
        )
    controller_token: str = reply["status"]["token"]
    return controller_token


@pytest.fixture(scope="module")
def hub() -> Iterator[Hub]:
    require_real()
    objects = render_base()
    from e2e.realapi import RealClusters

    with tempfile.TemporaryDirectory(prefix="fleet-deploy-") as workdir:
        harness = RealClusters(members=0, workdir=Path(workdir), bin_dir=BIN_DIR)
        try:
            [cluster] = harness.start()
            assert cluster.token is not None
            ca_pem = cluster.ca_file.read_bytes()
            controller_token = anyio.run(install, cluster.server, ca_pem, cluster.token, objects)
            yield Hub(
                cluster.server, cluster.ca_file, ca_pem, cluster.token, controller_token, objects
            )
        finally:
            harness.stop()


@pytest.fixture
async def admin(hub: Hub) -> AsyncIterator[ApiClient]:
    creds = Credentials(server=hub.server, token=hub.admin_token, ca_pem=hub.ca_pem)
    async with build_api_client(creds) as api:
        yield api


@pytest.fixture
async def as_controller(hub: Hub) -> AsyncIterator[ApiClient]:
    creds = Credentials(server=hub.server, token=hub.controller_token, ca_pem=hub.ca_pem)
    async with build_api_client(creds) as api:
        yield api


async def allowed(
    api: ApiClient, namespace: str, group: str, resource: str, subresource: str, verb: str
) -> bool:
    """The apiserver's answer to "may the controller's ServiceAccount do this?"."""
    attributes = {"namespace": namespace, "group": group, "resource": resource, "verb": verb}
    if subresource:
        attributes["subresource"] = subresource
    review = await request_json(
        api,
        "POST",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        body={
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": CONTROLLER_USER,
                "groups": SA_GROUPS,
                "resourceAttributes": attributes,
            },
        },
        timeout=CALL_TIMEOUT,
    )
    return bool(review["status"].get("allowed"))


# (namespace, group, resource, subresource, verb): things the controller must not be able to do.
DENIED = [
    ("kube-system", "", "secrets", "", "get"),
    ("", "", "secrets", "", "list"),  # across all namespaces
    (NAMESPACE, "", "secrets", "", "create"),
    (NAMESPACE, "", "secrets", "", "update"),
    (NAMESPACE, "", "secrets", "", "delete"),
    ("default", FLEET_GROUP, "applications", "", "list"),
    ("", FLEET_GROUP, "clusters", "", "watch"),  # across all namespaces
    ("", "", "namespaces", "", "delete"),
    ("", "apiextensions.k8s.io", "customresourcedefinitions", "", "create"),
    ("", "apiextensions.k8s.io", "customresourcedefinitions", "", "update"),
    ("", "apiextensions.k8s.io", "customresourcedefinitions", "", "delete"),
    (NAMESPACE, "", "pods", "exec", "create"),
    (NAMESPACE, "rbac.authorization.k8s.io", "roles", "", "update"),
    (NAMESPACE, "rbac.authorization.k8s.io", "rolebindings", "", "create"),
    ("", "rbac.authorization.k8s.io", "clusterroles", "", "create"),
    (NAMESPACE, "apps", "deployments", "", "update"),
]


@pytest.mark.anyio
async def test_every_rendered_object_is_stored_with_its_labels(hub: Hub, admin: ApiClient) -> None:
    for obj in hub.applied:
        live = await request_json(admin, "GET", item_path(obj), timeout=CALL_TIMEOUT)
        assert live["metadata"]["labels"]["app.kubernetes.io/name"] == "fleet", obj["kind"]


@pytest.mark.anyio
async def test_controller_pod_is_admitted_under_the_restricted_pod_security_standard(
    hub: Hub, admin: ApiClient
) -> None:
    # No scheduler or kubelet runs here: a dry-run create of the Deployment's pod goes through
    # admission (PodSecurity enforcing `restricted` from the namespace label) and stops there.
    namespace = next(o for o in hub.applied if o["kind"] == "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    template = next(o for o in hub.applied if o["kind"] == "Deployment")["spec"]["template"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "fleet-controller-", **template["metadata"]},
        "spec": template["spec"],
    }
    created = await request_json(
        admin,
        "POST",
        f"/api/v1/namespaces/{NAMESPACE}/pods",
        body=pod,
        query={"dryRun": "All", "fieldValidation": "Strict"},
        timeout=CALL_TIMEOUT,
    )
    assert created["spec"]["securityContext"]["runAsUser"] == 65532


@pytest.mark.anyio
async def test_pod_without_hardening_is_refused_in_the_namespace(admin: ApiClient) -> None:
    # Fine under `baseline`, refused under `restricted` (runs as root, no seccomp profile, keeps
    # capabilities): the namespace label is enforced, not only declared.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "unhardened"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
    }
    with pytest.raises(Forbidden, match="restricted"):
        await request_json(
            admin,
            "POST",
            f"/api/v1/namespaces/{NAMESPACE}/pods",
            body=pod,
            query={"dryRun": "All"},
            timeout=CALL_TIMEOUT,
        )


@pytest.mark.anyio
@pytest.mark.parametrize("need", NEEDED, ids=lambda n: "/".join(p for p in n if p))
async def test_controller_may_do_what_it_needs_in_its_namespace(
    admin: ApiClient, need: tuple[str, str, str, str]
) -> None:
    assert await allowed(admin, NAMESPACE, *need)


@pytest.mark.anyio
@pytest.mark.parametrize("case", DENIED, ids=lambda c: "/".join(p or "-" for p in c))
async def test_controller_may_not(admin: ApiClient, case: tuple[str, str, str, str, str]) -> None:
    assert not await allowed(admin, *case)


@pytest.mark.anyio
async def test_controller_token_lists_clusters_in_its_namespace(
    as_controller: ApiClient,
) -> None:
    listing = await request_json(
        as_controller,
        "GET",
        f"/apis/{FLEET_GROUP}/v1alpha1/namespaces/{NAMESPACE}/clusters",
        timeout=CALL_TIMEOUT,
    )
    assert listing["kind"] == "ClusterList"


@pytest.mark.anyio
async def test_controller_token_reads_secrets_in_its_namespace(as_controller: ApiClient) -> None:
    with pytest.raises(NotFound):
        await request_json(
            as_controller,
            "GET",
            f"/api/v1/namespaces/{NAMESPACE}/secrets/no-such-secret",
            timeout=CALL_TIMEOUT,
        )


@pytest.mark.anyio
async def test_controller_token_is_forbidden_secrets_in_kube_system(
    as_controller: ApiClient,
) -> None:
    with pytest.raises(Forbidden):
        await request_json(
            as_controller, "GET", "/api/v1/namespaces/kube-system/secrets", timeout=CALL_TIMEOUT
        )


READY_TIMEOUT = 60.0
STOP_TIMEOUT = 45.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _controller_kubeconfig(hub: Hub, path: Path) -> Path:
    """A kubeconfig with the controller ServiceAccount's token: what in-cluster config gives it."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "hub",
                "cluster": {"server": hub.server, "certificate-authority": str(hub.ca_file)},
            }
        ],
        "users": [{"name": SERVICE_ACCOUNT, "user": {"token": hub.controller_token}}],
        "contexts": [{"name": "hub", "context": {"cluster": "hub", "user": SERVICE_ACCOUNT}}],
        "current-context": "hub",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@dataclass
class RunningController:
    process: subprocess.Popen[bytes]
    port: int
    log: Path


@contextmanager
def controller_process(hub: Hub, workdir: Path) -> Iterator[RunningController]:
    """`fleet controller run` as the Deployment runs it, but authenticated as its ServiceAccount
    through a kubeconfig, on a loopback port; waits until /readyz answers 200."""
    port = _free_port()
    log = workdir / "controller.log"
    command = [
        sys.executable,
        "-m",
        "fleet.cli",
        "controller",
        "run",
        "--hub-kubeconfig",
        str(_controller_kubeconfig(hub, workdir / "controller-kubeconfig.yaml")),
        "--namespace",
        NAMESPACE,
        "--listen",
        f"127.0.0.1:{port}",
        "--health-listen",
        "127.0.0.1:0",
        "--cache-dir",
        str(workdir / "cache"),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    env["FLEET_LOG_FORMAT"] = "json"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            assert process.poll() is None, f"controller exited:\n{log.read_text()[-4000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            assert time.monotonic() < deadline, f"never ready:\n{log.read_text()[-4000:]}"
            time.sleep(0.2)
        yield RunningController(process, port, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


def test_controller_becomes_ready_with_only_its_role(hub: Hub, tmp_path: Path) -> None:
    # Ready means the hub caches synced: every list and watch the controller starts with is
    # allowed by the Role (a 403 would keep /readyz at 503 and show up in the log).
    with controller_process(hub, tmp_path) as controller:
        log = controller.log.read_text()
    assert "Forbidden" not in log and '"status": 403' not in log, log[-4000:]


def test_controller_exits_zero_on_sigterm(hub: Hub, tmp_path: Path) -> None:
    with controller_process(hub, tmp_path) as controller:
        controller.process.send_signal(signal.SIGTERM)
        code = controller.process.wait(timeout=STOP_TIMEOUT)
    assert code == 0, controller.log.read_text()[-4000:]
