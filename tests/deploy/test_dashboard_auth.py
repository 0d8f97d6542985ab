"""`kustomize build deploy/dashboard-auth`: the one cluster-wide grant the dashboard needs."""

from __future__ import annotations

import subprocess

import yaml

from tests.deploy.manifests import (
    DEPLOY_DIR,
    KUSTOMIZE_TIMEOUT,
    NAMESPACE,
    SERVICE_ACCOUNT,
    kustomize_binary,
)


def test_dashboard_auth_binds_only_auth_delegator_to_the_controller() -> None:
    done = subprocess.run(
        [str(kustomize_binary()), "build", str(DEPLOY_DIR / "dashboard-auth")],
        capture_output=True,
        text=True,
        timeout=KUSTOMIZE_TIMEOUT,
        check=True,
    )
    [binding] = [d for d in yaml.safe_load_all(done.stdout) if d]
    assert binding["kind"] == "ClusterRoleBinding"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "system:auth-delegator",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}
    ]
