"""Which API resource a member request was for (fleet.kube.observe.resource_of): what
`fleet_cluster_requests_by_resource_total` and fleet_bench report, to tell reads apart."""

from __future__ import annotations

import pytest

from fleet.kube.observe import resource_of


@pytest.mark.parametrize(
    ("method", "path", "watch", "expected"),
    [
        ("GET", "/api/v1/namespaces/ns/configmaps/a", False, ("GET", "configmaps")),
        ("GET", "/api/v1/namespaces/ns/configmaps", False, ("LIST", "configmaps")),
        ("GET", "/apis/apps/v1/deployments", True, ("WATCH", "apps/deployments")),
        ("PATCH", "/apis/apps/v1/namespaces/n/deployments/w", False, ("PATCH", "apps/deployments")),
        ("GET", "/apis/apps/v1/namespaces/n/deployments/w/status", False,
         ("GET", "apps/deployments/status")),
        ("GET", "/api/v1/namespaces/app-0", False, ("GET", "namespaces")),
        ("PUT", "/api/v1/namespaces/app-0/finalize", False, ("PUT", "namespaces/finalize")),
        ("GET", "/api/v1/namespaces", False, ("LIST", "namespaces")),
        ("GET", "/api/v1", False, ("GET", "discovery")),
        ("GET", "/apis/apps/v1", False, ("GET", "discovery")),
        ("GET", "/apis", False, ("GET", "discovery")),
        ("GET", "/version", False, ("GET", "version")),
        ("GET", "/openapi/v2", False, ("GET", "other")),
    ],
)  # fmt: skip
def test_a_request_is_named_by_verb_and_resource(
    method: str, path: str, watch: bool, expected: tuple[str, str]
) -> None:
    assert resource_of(method, path, watch) == expected
