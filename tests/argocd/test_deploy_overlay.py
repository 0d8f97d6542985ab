"""docs/argocd-overlay: fleet's deploy/ base as Argo CD's controller (docs/migration.md)."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.deploy.manifests import KUSTOMIZE_TIMEOUT, REPO_ROOT, Obj, grants, kustomize_binary, one

OVERLAY = REPO_ROOT / "docs" / "argocd-overlay"


@pytest.fixture(scope="module")
def rendered() -> list[Obj]:
    done = subprocess.run(
        [str(kustomize_binary()), "build", str(OVERLAY)],
        capture_output=True,
        text=True,
        timeout=KUSTOMIZE_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def test_everything_lands_in_argocd_and_argo_cds_namespace_is_left_alone(
    rendered: list[Obj],
) -> None:
    assert not [o for o in rendered if o["kind"] == "Namespace"]
    assert {o["metadata"].get("namespace") for o in rendered} == {"argocd"}
    binding = one(rendered, "RoleBinding")
    assert binding["subjects"][0]["namespace"] == "argocd"


def test_the_controller_runs_in_argo_cd_mode(rendered: list[Obj]) -> None:
    args = one(rendered, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--api") + 1] == "argocd"


@pytest.mark.parametrize("resource", ["applications", "applicationsets", "appprojects"])
@pytest.mark.parametrize("verb", ["get", "list", "watch", "create", "update", "patch", "delete"])
def test_the_role_grants_argo_cds_resources(rendered: list[Obj], resource: str, verb: str) -> None:
    assert grants(one(rendered, "Role"), "argoproj.io", resource, "", verb)


def test_the_role_grants_applicationset_status_and_finalizers(rendered: list[Obj]) -> None:
    role = one(rendered, "Role")
    assert grants(role, "argoproj.io", "applicationsets", "status", "patch")
    assert grants(role, "argoproj.io", "applications", "finalizers", "update")
    assert not any("*" in rule.get("verbs", []) for rule in role["rules"])
