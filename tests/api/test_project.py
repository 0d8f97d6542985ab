"""Project: Argo CD AppProject semantics (globs, `!` deny entries, default project, kind lists)."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.api.project import (
    InvalidProjectError,
    Project,
    default_project,
    normalize_repo_url,
    parse_project,
)
from tests.api import samples


def project(**spec: Any) -> Project:
    return parse_project({"metadata": {"name": "p", "namespace": "fleet-system"}, "spec": spec})


def test_sample_project_parses() -> None:
    parsed = parse_project(samples.project())
    assert parsed.name == "team-a"
    assert parsed.destinations[1].name == "member-*"
    assert parsed.namespace_resource_blacklist[0].kind == "ResourceQuota"


def test_argo_cd_app_project_is_accepted() -> None:
    doc = samples.project()
    doc["apiVersion"], doc["kind"] = "argoproj.io/v1alpha1", "AppProject"
    doc["spec"]["roles"] = [{"name": "ci", "policies": ["p, proj:team-a:ci, applications, sync"]}]
    assert parse_project(doc).source_repos == tuple(samples.project()["spec"]["sourceRepos"])


def test_invalid_destination_names_the_field() -> None:
    with pytest.raises(
        InvalidProjectError, match=r"spec\.destinations\[1\]\.namespace: expected a string"
    ):
        project(destinations=[{"server": "*", "namespace": "*"}, {"name": "a", "namespace": 3}])


def test_unknown_spec_field_is_named() -> None:
    with pytest.raises(InvalidProjectError, match=r"spec\.sourceRepo: unknown field"):
        project(sourceRepo=["*"])


def test_group_kind_entry_needs_a_kind() -> None:
    with pytest.raises(
        InvalidProjectError, match=r"spec\.clusterResourceWhitelist\[0\]\.kind: required"
    ):
        project(clusterResourceWhitelist=[{"group": "*"}])


def test_source_glob_star_does_not_cross_a_slash() -> None:
    p = project(sourceRepos=["https://github.com/org/*"])
    assert p.permits_source("https://github.com/org/repo")
    assert not p.permits_source("https://github.com/org/group/repo")


def test_source_double_star_crosses_slashes() -> None:
    p = project(sourceRepos=["https://gitlab.com/org/**"])
    assert p.permits_source("https://gitlab.com/org/group/sub/repo.git")


def test_source_urls_compare_normalised() -> None:
    p = project(sourceRepos=["https://GitHub.com/Org/Repo.git/"])
    assert p.permits_source("https://github.com/org/repo")


def test_scp_like_and_ssh_urls_are_one_repository() -> None:
    assert normalize_repo_url("git@github.com:org/repo.git") == normalize_repo_url(
        "ssh://git@github.com/org/repo"
    )


def test_source_deny_entry_refuses_a_repository_the_wildcard_allows() -> None:
    p = project(sourceRepos=["*", "!https://github.com/org/secret"])
    assert p.permits_source("https://github.com/org/public")
    assert not p.permits_source("https://github.com/org/secret.git")


def test_source_deny_entry_alone_allows_the_rest_as_in_argo_cd() -> None:
    p = project(sourceRepos=["!https://github.com/org/secret"])
    assert p.permits_source("https://github.com/org/public")


def test_no_source_repos_permit_nothing() -> None:
    assert not project().permits_source("https://github.com/org/repo")


def test_destination_matches_by_server_glob_and_namespace() -> None:
    p = project(destinations=[{"server": "https://10.0.*", "namespace": "team-*"}])
    assert p.permits_destination("https://10.0.0.1:6443", "member-1", "team-a")
    assert not p.permits_destination("https://10.0.0.1:6443", "member-1", "kube-system")


def test_destination_matches_by_name_glob() -> None:
    p = project(destinations=[{"name": "member-*", "namespace": "*"}])
    assert p.permits_destination("https://10.9.9.9", "member-2", "anything")
    assert not p.permits_destination("https://10.9.9.9", "prod-1", "anything")


def test_negated_namespace_denies_what_a_wildcard_allows() -> None:
    p = project(
        destinations=[
            {"server": "*", "namespace": "*"},
            {"server": "*", "namespace": "!kube-system"},
        ]
    )
    assert p.permits_destination("https://a", "a", "web")
    assert not p.permits_destination("https://a", "a", "kube-system")


def test_negated_server_denies_that_cluster() -> None:
    p = project(
        destinations=[
            {"name": "*", "namespace": "*"},
            {"server": "!https://prod", "namespace": "*"},
        ]
    )
    assert p.permits_destination("https://dev", "dev", "web")
    assert not p.permits_destination("https://prod", "prod", "web")


def test_default_project_permits_everything() -> None:
    p = default_project()
    assert p.permits_source("git@example.com:any/thing.git")
    assert p.permits_destination("https://x", "x", "kube-system")
    assert p.permits_kind("rbac.authorization.k8s.io", "ClusterRole", namespaced=False)


def test_empty_cluster_whitelist_permits_no_cluster_scoped_kind() -> None:
    assert not project().permits_kind("", "Namespace", namespaced=False)


def test_cluster_blacklist_wins_over_whitelist() -> None:
    p = project(
        clusterResourceWhitelist=[{"group": "*", "kind": "*"}],
        clusterResourceBlacklist=[{"group": "rbac.authorization.k8s.io", "kind": "Cluster*"}],
    )
    assert p.permits_kind("", "Namespace", namespaced=False)
    assert not p.permits_kind("rbac.authorization.k8s.io", "ClusterRoleBinding", namespaced=False)


def test_absent_namespace_whitelist_permits_every_namespaced_kind() -> None:
    assert project().permits_kind("apps", "Deployment", namespaced=True)


def test_explicit_empty_namespace_whitelist_permits_none_as_in_argo_cd() -> None:
    assert not project(namespaceResourceWhitelist=[]).permits_kind("apps", "Deployment", True)


def test_namespace_blacklist_denies() -> None:
    p = project(namespaceResourceBlacklist=[{"group": "", "kind": "ResourceQuota"}])
    assert not p.permits_kind("", "ResourceQuota", namespaced=True)
    assert p.permits_kind("", "ConfigMap", namespaced=True)


def test_violations_use_argo_cd_wording() -> None:
    p = project(
        sourceRepos=["https://github.com/org/*"], destinations=[{"name": "dev", "namespace": "web"}]
    )
    app = {
        "spec": {
            "source": {"repoURL": "https://evil.example/x"},
            "destination": {"name": "prod", "namespace": "db"},
        }
    }
    assert p.violations(app, cluster_name="prod", cluster_server="https://prod:6443") == [
        "application repo https://evil.example/x is not permitted in project 'p'",
        "application destination server 'https://prod:6443' and namespace 'db' do not match"
        " any of the allowed destinations in project 'p'",
    ]


def test_violations_never_show_a_token_in_the_repo_url() -> None:
    app = {
        "spec": {"source": {"repoURL": "https://user:s3cret@git.example/x.git"}, "destination": {}}
    }
    (message,) = project(destinations=[{"server": "*", "namespace": "*"}]).violations(
        app, cluster_name="a", cluster_server="https://a"
    )
    assert "s3cret" not in message


def test_permitted_application_has_no_violations() -> None:
    app = {
        "spec": {"source": {"repoURL": "https://github.com/x/y"}, "destination": {"namespace": "n"}}
    }
    assert default_project().violations(app, cluster_name="a", cluster_server="https://a") == []


def test_resource_violations_name_the_cluster_scoped_kind() -> None:
    manifests = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "r"},
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "web"}},
    ]
    scopes = {("rbac.authorization.k8s.io", "ClusterRole"): False, ("", "ConfigMap"): True}
    assert project().resource_violations(manifests, lambda g, k: scopes.get((g, k))) == [
        "resource rbac.authorization.k8s.io:ClusterRole is not permitted in project p"
    ]


def test_unknown_scope_without_namespace_is_judged_cluster_scoped() -> None:
    manifests = [{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}]
    assert project().resource_violations(manifests, lambda g, k: None) == [
        "resource example.com:Widget is not permitted in project p"
    ]


def test_namespaced_resource_outside_permitted_namespaces_is_refused() -> None:
    p = project(destinations=[{"server": "*", "namespace": "web"}])
    manifests = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "db"}}
    ]
    assert p.resource_violations(
        manifests, lambda g, k: True, cluster_server="https://a", cluster_name="a"
    ) == ["namespace db is not permitted in project 'p'"]


def test_application_outside_controller_namespace_needs_source_namespaces() -> None:
    p = project(sourceNamespaces=["team-*"])
    assert p.permits_application_namespace("team-a", control_namespace="fleet-system")
    assert p.permits_application_namespace("fleet-system", control_namespace="fleet-system")
    assert not p.permits_application_namespace("other", control_namespace="fleet-system")
