"""The Cluster model: validation errors name the field path; the CRD installs in both backends."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from fleet.api.cluster import (
    ClusterSpec,
    InvalidClusterError,
    SecretRef,
    cluster_object,
    parse_cluster,
)
from fleet.kube import Invalid, request_json
from fleet.kube.errors import KubeError

pytestmark = pytest.mark.anyio


def obj(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"server": "https://a:6443", "secretRef": {"name": "s"}}
    base.update(spec)
    return {
        "apiVersion": "fleet.gitops.dev/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": "prod-1", "namespace": "fleet-system"},
        "spec": base,
    }


def test_a_valid_cluster_parses() -> None:
    cluster = parse_cluster(obj(labels={"env": "prod"}, project="p", insecure=False))
    assert cluster.spec.secret_ref == SecretRef("s")
    assert cluster.spec.labels == {"env": "prod"} and cluster.spec.insecure is False


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"server": None}, "spec.server"),
        ({"server": "ftp://a"}, "spec.server"),
        ({"secretRef": None}, "spec.secretRef"),
        ({"secretRef": {"name": ""}}, "spec.secretRef.name"),
        ({"secretRef": {"name": "s", "extra": 1}}, "spec.secretRef.extra"),
        ({"labels": {"env": 1}}, "spec.labels.env"),
        ({"insecure": "yes"}, "spec.insecure"),
        ({"bogus": 1}, "spec.bogus"),
    ],
)
def test_an_invalid_field_is_reported_by_path(spec: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidClusterError) as caught:
        parse_cluster(obj(**spec))
    assert caught.value.path == path


def test_a_name_that_is_not_a_dns_label_is_rejected() -> None:
    bad = obj()
    bad["metadata"]["name"] = "Prod_1"
    with pytest.raises(InvalidClusterError, match=r"^metadata\.name"):
        parse_cluster(bad)


def test_cluster_object_round_trips() -> None:
    spec = ClusterSpec("https://a", SecretRef("s", "kubeconfig"), {"a": "b"}, {}, "p", True)
    assert parse_cluster(cluster_object("c", "ns", spec)).spec == spec


async def test_the_crd_serves_clusters_with_printer_columns(hub: ApiClient, namespace: str) -> None:
    body = obj()
    body["metadata"]["namespace"] = namespace
    created = await request_json(
        hub, "POST", f"/apis/fleet.gitops.dev/v1alpha1/namespaces/{namespace}/clusters", body=body
    )
    assert created["spec"]["secretRef"] == {"name": "s"}
    crd = await request_json(
        hub,
        "GET",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/clusters.fleet.gitops.dev",
    )
    columns = [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert columns == ["Server", "Ready", "Version", "Latency", "Age"]
    assert crd["spec"]["names"]["shortNames"] == ["fcl"]


async def test_the_crd_rejects_a_cluster_without_a_secret_ref(
    hub: ApiClient, namespace: str
) -> None:
    bad = obj()
    bad["metadata"]["namespace"] = namespace
    del bad["spec"]["secretRef"]
    with pytest.raises(Invalid, match="secretRef"):
        await request_json(
            hub,
            "POST",
            f"/apis/fleet.gitops.dev/v1alpha1/namespaces/{namespace}/clusters",
            body=bad,
        )


async def test_status_is_written_only_through_the_subresource(
    hub: ApiClient, namespace: str
) -> None:
    path = f"/apis/fleet.gitops.dev/v1alpha1/namespaces/{namespace}/clusters"
    body = obj()
    body["metadata"]["namespace"] = namespace
    body["status"] = {"latencyMs": 5}
    created = await request_json(hub, "POST", path, body=body)
    assert "status" not in created or not created["status"]
    patched = await request_json(
        hub,
        "PATCH",
        f"{path}/prod-1/status",
        body={"status": {"latencyMs": 5}},
        content_type="application/merge-patch+json",
    )
    assert patched["status"]["latencyMs"] == 5
    assert isinstance(patched, dict) and not isinstance(patched, KubeError)
