"""`kustomize build deploy/`: the objects, their wiring, least privilege and pod hardening."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import (
    DEPLOY_DIR,
    KUSTOMIZE_TIMEOUT,
    NAMESPACE,
    NEEDED,
    SERVICE_ACCOUNT,
    Obj,
    grants,
    kustomize_binary,
    one,
)

CLUSTER_SCOPED_KINDS = {"Namespace"}
"""The only cluster-scoped object the base may create."""


def _container(rendered: list[Obj]) -> Obj:
    containers = one(rendered, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: Obj = containers[0]
    return container


def _pod_spec(rendered: list[Obj]) -> Obj:
    spec: Obj = one(rendered, "Deployment")["spec"]["template"]["spec"]
    return spec


def _build_overlay(tmp_path: Path, kustomization: dict[str, Any]) -> list[Obj]:
    """Render an overlay of the base written under tmp_path, as a user's overlay would be
    (kustomize refuses absolute resource paths, hence the relative one)."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": [os.path.relpath(DEPLOY_DIR, overlay)], **kustomization})
    )
    done = subprocess.run(
        [str(kustomize_binary()), "build", str(overlay)],
        capture_output=True,
        text=True,
        timeout=KUSTOMIZE_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def test_base_renders_the_controller_objects(rendered: list[Obj]) -> None:
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in rendered)
    assert kinds == [
        ("Deployment", "fleet-controller"),
        ("Namespace", NAMESPACE),
        ("Role", "fleet-controller"),
        ("RoleBinding", "fleet-controller"),
        ("Service", "fleet-controller"),
        ("ServiceAccount", SERVICE_ACCOUNT),
    ]


def test_no_cluster_wide_rbac_or_other_cluster_scoped_objects(rendered: list[Obj]) -> None:
    cluster_scoped = [o["kind"] for o in rendered if "namespace" not in o["metadata"]]
    assert set(cluster_scoped) <= CLUSTER_SCOPED_KINDS
    assert not [o for o in rendered if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]


def test_namespaced_objects_are_in_fleet_system(rendered: list[Obj]) -> None:
    namespaces = {o["metadata"]["namespace"] for o in rendered if o["kind"] != "Namespace"}
    assert namespaces == {NAMESPACE}


def test_every_object_carries_the_app_label(rendered: list[Obj]) -> None:
    unlabelled = [
        o["kind"]
        for o in rendered
        if o["metadata"].get("labels", {}).get("app.kubernetes.io/name") != "fleet"
    ]
    assert unlabelled == []


def test_deployment_selector_matches_its_pod_labels(rendered: list[Obj]) -> None:
    deployment = one(rendered, "Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    assert selector["app.kubernetes.io/name"] == "fleet"


def test_service_selects_the_controller_pods_on_the_http_port(rendered: list[Obj]) -> None:
    service = one(rendered, "Service")
    labels = one(rendered, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    [port] = service["spec"]["ports"]
    ports = {p["name"]: p["containerPort"] for p in _container(rendered)["ports"]}
    assert port["port"] == 8080
    assert ports[port["targetPort"]] == 8080


def test_probes_go_to_the_health_port_not_behind_the_busy_one(rendered: list[Obj]) -> None:
    container = _container(rendered)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("livenessProbe", "readinessProbe"):
        assert ports[container[probe]["httpGet"]["port"]] == 8081


def test_role_binding_gives_the_role_to_the_pod_service_account(rendered: list[Obj]) -> None:
    binding = one(rendered, "RoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": one(rendered, "Role")["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}
    ]
    assert _pod_spec(rendered)["serviceAccountName"] == SERVICE_ACCOUNT


@pytest.mark.parametrize("need", NEEDED, ids=lambda n: "/".join(p for p in n if p))
def test_role_grants_what_the_controller_needs(
    rendered: list[Obj], need: tuple[str, str, str, str]
) -> None:
    assert grants(one(rendered, "Role"), *need)


def test_role_has_no_wildcards(rendered: list[Obj]) -> None:
    for rule in one(rendered, "Role")["rules"]:
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[key], rule


def test_role_only_reads_secrets(rendered: list[Obj]) -> None:
    verbs = {
        verb
        for rule in one(rendered, "Role")["rules"]
        if "secrets" in rule["resources"]
        for verb in rule["verbs"]
    }
    assert verbs == {"get", "list", "watch"}


def test_pod_runs_as_uid_65532_with_runtime_default_seccomp(rendered: list[Obj]) -> None:
    pod = _pod_spec(rendered)["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == 65532
    assert pod["runAsGroup"] == 65532
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}


def test_container_is_read_only_without_capabilities_or_escalation(rendered: list[Obj]) -> None:
    context = _container(rendered)["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == 65532
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}


@pytest.mark.parametrize(
    ("probe", "path"), [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")]
)
def test_probe_gets_its_path_on_the_container_port(
    rendered: list[Obj], probe: str, path: str
) -> None:
    container = _container(rendered)
    get = container[probe]["httpGet"]
    assert get["path"] == path
    names = {p["name"] for p in container["ports"]}
    numbers = {p["containerPort"] for p in container["ports"]}
    assert get["port"] in names | numbers


def test_writable_paths_are_empty_dirs(rendered: list[Obj]) -> None:
    pod = _pod_spec(rendered)
    empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    mounts = {m["mountPath"]: m["name"] for m in _container(rendered)["volumeMounts"]}
    assert mounts.keys() == {"/tmp", "/var/cache/fleet"}
    assert set(mounts.values()) <= empty_dirs


def test_controller_runs_with_cache_dir_listen_addresses_and_pod_namespace(
    rendered: list[Obj],
) -> None:
    container = _container(rendered)
    args = container["args"]
    assert args[:2] == ["controller", "run"]
    options = dict(zip(args[2::2], args[3::2], strict=True))
    assert options == {
        "--namespace": "$(POD_NAMESPACE)",
        "--listen": "0.0.0.0:8080",
        "--health-listen": "0.0.0.0:8081",
        "--cache-dir": "/var/cache/fleet",
    }
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}


def test_logs_are_json(rendered: list[Obj]) -> None:
    env = {e["name"]: e.get("value") for e in _container(rendered)["env"]}
    assert env["FLEET_LOG_FORMAT"] == "json"


def test_resources_requests_and_limits(rendered: list[Obj]) -> None:
    assert _container(rendered)["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }


def test_one_replica_with_a_60_second_shutdown_grace(rendered: list[Obj]) -> None:
    deployment = one(rendered, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 60


def test_default_image(rendered: list[Obj]) -> None:
    assert _container(rendered)["image"] == "ghcr.io/fleet-gitops/fleet:latest"


def test_overlay_replaces_the_image(tmp_path: Path) -> None:
    objects = _build_overlay(
        tmp_path,
        {
            "images": [
                {
                    "name": "ghcr.io/fleet-gitops/fleet",
                    "newName": "registry.example/fleet",
                    "newTag": "v1.2.3",
                }
            ]
        },
    )
    assert _container(objects)["image"] == "registry.example/fleet:v1.2.3"


def test_overlay_moves_every_object_and_the_binding_subject_to_its_namespace(
    tmp_path: Path,
) -> None:
    objects = _build_overlay(tmp_path, {"namespace": "gitops"})
    assert one(objects, "Namespace")["metadata"]["name"] == "gitops"
    assert {o["metadata"]["namespace"] for o in objects if o["kind"] != "Namespace"} == {"gitops"}
    assert one(objects, "RoleBinding")["subjects"][0]["namespace"] == "gitops"


@pytest.mark.parametrize("provider", ["GITHUB", "GITLAB", "GITEA", "BITBUCKET_SERVER"])
def test_webhook_secret_comes_from_an_optional_secret_key(
    rendered: list[Obj], provider: str
) -> None:
    env = {e["name"]: e for e in _container(rendered)["env"]}
    ref = env[f"FLEET_WEBHOOK_{provider}_SECRET"]["valueFrom"]["secretKeyRef"]
    assert ref == {
        "name": "fleet-webhook",
        "key": provider.lower().replace("_", "-"),
        "optional": True,
    }
    assert not any("SECRET" in arg.upper() for arg in _container(rendered)["args"])
