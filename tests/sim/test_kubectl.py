"""kubectl (a real Go client) against the simulator through a kubeconfig with a path prefix."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from fleet.sim import SimCluster
from tests import kubectl as pinned
from tests.kubectl import KUBECTL, require_kubectl
from tests.sim.conftest import CM_PATH, Raw, configmap

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def need_kubectl() -> None:
    require_kubectl()


MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
"""


async def kubectl(cluster: SimCluster, *args: str, stdin: str | None = None) -> tuple[int, str]:
    return await pinned.kubectl(cluster.kubeconfig, *args, stdin=stdin)


async def test_kubectl_get(cluster: SimCluster, raw: Raw) -> None:
    await raw.request("POST", CM_PATH, configmap("shown"))
    code, out = await kubectl(cluster, "get", "configmaps")
    assert code == 0, out
    assert "shown" in out
    code, out = await kubectl(cluster, "get", "cm", "shown", "-o", "json")
    assert code == 0, out
    assert json.loads(out)["data"] == {"a": "1"}


async def test_kubectl_apply_server_side(cluster: SimCluster, raw: Raw) -> None:
    code, out = await kubectl(cluster, "apply", "--server-side", "-f", "-", stdin=MANIFEST)
    assert code == 0, out
    assert "deployment.apps/web serverside-applied" in out
    _, body = await raw.request("GET", "/apis/apps/v1/namespaces/default/deployments/web")
    assert body["spec"]["replicas"] == 2
    assert body["metadata"]["managedFields"][0]["manager"] == "kubectl"
    code, out = await kubectl(
        cluster,
        "apply",
        "--server-side",
        "--field-manager",
        "rival",
        "-f",
        "-",
        stdin=MANIFEST.replace("replicas: 2", "replicas: 3"),
    )
    assert code != 0
    assert "conflict" in out.lower()


async def test_kubectl_delete(cluster: SimCluster, raw: Raw) -> None:
    await raw.request("POST", CM_PATH, configmap("doomed"))
    code, out = await kubectl(cluster, "delete", "configmap", "doomed")
    assert code == 0, out
    assert 'configmap "doomed" deleted' in out
    code, _ = await raw.request("GET", CM_PATH + "/doomed")
    assert code == 404


async def test_kubectl_get_watch(cluster: SimCluster, raw: Raw) -> None:
    process = await asyncio.create_subprocess_exec(
        str(KUBECTL),
        "--kubeconfig",
        str(cluster.kubeconfig),
        "get",
        "configmaps",
        "-w",
        "-o",
        "name",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        await asyncio.sleep(0.5)
        await raw.request("POST", CM_PATH, configmap("watched"))
        line = await asyncio.wait_for(process.stdout.readline(), 10)
        assert line.decode().strip() == "configmap/watched"
    finally:
        process.terminate()
        await process.wait()


async def test_kubectl_readonly_kubeconfig_is_forbidden_to_write(
    cluster: SimCluster, tmp_path: Path
) -> None:
    path = tmp_path / "ro.kubeconfig"
    path.write_text(cluster.kubeconfig_text(readonly=True))
    code, out = await pinned.kubectl(path, "delete", "namespace", "default")
    assert code != 0
    assert "Forbidden" in out or "forbidden" in out


async def test_kubectl_create_sends_protobuf_and_it_is_decoded(
    cluster: SimCluster, raw: Raw
) -> None:
    code, out = await kubectl(
        cluster, "create", "deployment", "made", "--image=nginx:1.27", "--replicas=2", "--port=8080"
    )
    assert code == 0, out
    _, body = await raw.request("GET", "/apis/apps/v1/namespaces/default/deployments/made")
    assert body["spec"]["replicas"] == 2
    container = body["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27"
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    code, out = await kubectl(cluster, "create", "configmap", "cm", "--from-literal=k=v")
    assert code == 0, out
    _, cm = await raw.request("GET", CM_PATH + "/cm")
    assert cm["data"] == {"k": "v"}
    assert cm["metadata"]["managedFields"][0]["manager"] == "kubectl-create"


CRD_MANIFEST = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget, shortNames: [gd]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""


async def test_kubectl_applies_crd_then_custom_resource(cluster: SimCluster) -> None:
    code, out = await kubectl(cluster, "apply", "--server-side", "-f", "-", stdin=CRD_MANIFEST)
    assert code == 0, out
    code, out = await kubectl(
        cluster, "wait", "--for=condition=Established", "crd/gadgets.example.com", "--timeout=10s"
    )
    assert code == 0, out
    gadget = "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g1}\nspec: {size: 3}\n"
    code, out = await kubectl(cluster, "apply", "--server-side", "-f", "-", stdin=gadget)
    assert code == 0, out
    code, out = await kubectl(cluster, "get", "gd")
    assert code == 0, out
    assert "g1" in out


# -- validation, explain and diff: the OpenAPI documents a real server publishes ---------------

GADGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gizmos.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gizmos, singular: gizmo, kind: Gizmo}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: What the gizmo should be.
            properties:
              size:
                type: integer
                description: Size of the gizmo, in gizmo units.
"""
GIZMO = "apiVersion: example.com/v1\nkind: Gizmo\nmetadata: {name: g1, namespace: default}\n"


async def _install_gizmos(cluster: SimCluster) -> None:
    code, out = await kubectl(cluster, "apply", "-f", "-", stdin=GADGET_CRD)
    assert code == 0, out
    code, out = await kubectl(
        cluster, "wait", "--for=condition=Established", "crd/gizmos.example.com", "--timeout=10s"
    )
    assert code == 0, out


async def test_kubectl_apply_validates_a_deployment_without_validate_false(
    cluster: SimCluster, raw: Raw
) -> None:
    code, out = await kubectl(cluster, "apply", "-f", "-", stdin=MANIFEST)
    assert code == 0, out
    assert "deployment.apps/web created" in out
    changed = MANIFEST.replace("replicas: 2", "replicas: 3")
    code, out = await kubectl(cluster, "apply", "--validate=strict", "-f", "-", stdin=changed)
    assert code == 0, out
    assert "deployment.apps/web configured" in out
    _, body = await raw.request("GET", "/apis/apps/v1/namespaces/default/deployments/web")
    assert body["spec"]["replicas"] == 3


async def test_kubectl_apply_validates_a_custom_resource_without_validate_false(
    cluster: SimCluster,
) -> None:
    await _install_gizmos(cluster)
    code, out = await kubectl(cluster, "apply", "-f", "-", stdin=GIZMO + "spec: {size: 3}\n")
    assert code == 0, out
    assert "gizmo.example.com/g1 created" in out
    code, out = await kubectl(
        cluster, "apply", "--validate=strict", "-f", "-", stdin=GIZMO + "spec: {colour: red}\n"
    )
    assert code != 0
    assert 'strict decoding error: unknown field "spec.colour"' in out


async def test_kubectl_reports_an_unknown_field_as_a_real_server_does(
    cluster: SimCluster, raw: Raw
) -> None:
    bogus = MANIFEST.replace("  replicas: 2\n", "  replicas: 2\n  bogus: 1\n")
    code, out = await kubectl(cluster, "apply", "--validate=strict", "-f", "-", stdin=bogus)
    assert code != 0
    assert (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.bogus"'
    ) in out
    code, _ = await raw.request("GET", "/apis/apps/v1/namespaces/default/deployments/web")
    assert code == 404
    code, out = await kubectl(cluster, "apply", "--validate=warn", "-f", "-", stdin=bogus)
    assert code == 0, out
    assert 'unknown field "spec.bogus"' in out


async def test_kubectl_explain_prints_a_builtin_fields_documentation(cluster: SimCluster) -> None:
    code, out = await kubectl(cluster, "explain", "deployment.spec.replicas")
    assert code == 0, out
    assert "FIELD: replicas <integer>" in out
    assert "Number of desired pods" in out


async def test_kubectl_explain_prints_a_crds_field_documentation(cluster: SimCluster) -> None:
    await _install_gizmos(cluster)
    code, out = await kubectl(cluster, "api-resources", "--api-group=example.com")
    assert code == 0 and "gizmos" in out, out
    code, out = await kubectl(cluster, "explain", "gizmo.spec")
    assert code == 0, out
    assert "What the gizmo should be." in out
    assert "size\t<integer>" in out and "Size of the gizmo, in gizmo units." in out
    code, out = await kubectl(
        cluster, "explain", "--output=plaintext-openapiv2", "gizmo.spec.size"
    )  # reads /openapi/v2 as protobuf
    assert code == 0, out
    assert "Size of the gizmo, in gizmo units." in out


async def test_kubectl_diff_shows_exactly_the_change(cluster: SimCluster) -> None:
    code, out = await kubectl(cluster, "apply", "-f", "-", stdin=MANIFEST)
    assert code == 0, out
    code, out = await kubectl(cluster, "diff", "-f", "-", stdin=MANIFEST)
    assert (code, out) == (0, "")
    code, out = await kubectl(
        cluster, "diff", "-f", "-", stdin=MANIFEST.replace("replicas: 2", "replicas: 3")
    )
    assert code == 1, out
    changed = [
        line.strip()
        for line in out.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert sorted(changed) == sorted(
        ["-  generation: 1", "+  generation: 2", "-  replicas: 2", "+  replicas: 3"]
    )
