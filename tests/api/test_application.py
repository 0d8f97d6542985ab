"""Application: parsing with field paths, destination resolution, Argo CD -> fleet group."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.api.application import (
    InvalidApplicationError,
    UnknownDestinationError,
    parse_application,
    resolve_destination,
    to_fleet,
)
from tests.api import samples

CLUSTERS = [("member-1", "https://10.0.0.1:6443"), ("member-2", "https://10.0.0.2:6443/")]


def app(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "source": {"repoURL": "https://git.example/apps.git", "path": "web"},
        "destination": {"name": "member-1", "namespace": "web"},
    }
    base.update(spec)
    return {
        "apiVersion": "fleet.gitops.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "web", "namespace": "fleet-system"},
        "spec": base,
    }


def test_sample_application_parses_with_its_sync_policy() -> None:
    parsed = parse_application(samples.application())
    assert (parsed.automated, parsed.prune, parsed.self_heal) == (True, True, True)
    assert parsed.source.raw["helm"]["releaseName"] == "guestbook"


def test_defaults_are_project_default_and_revision_head() -> None:
    parsed = parse_application(app())
    assert parsed.project == "default"
    assert parsed.source.target_revision == "HEAD"
    assert not parsed.automated


def test_argo_cd_application_is_accepted() -> None:
    doc = app()
    doc["apiVersion"] = "argoproj.io/v1alpha1"
    assert parse_application(doc).name == "web"


def test_automated_enabled_false_turns_automation_off() -> None:
    parsed = parse_application(app(syncPolicy={"automated": {"enabled": False, "prune": True}}))
    assert not parsed.automated


def test_missing_repo_url_names_the_field() -> None:
    with pytest.raises(InvalidApplicationError, match=r"^spec\.source\.repoURL: required"):
        parse_application(app(source={"path": "web"}))


def test_destination_with_server_and_name_is_refused() -> None:
    doc = app(destination={"server": "https://10.0.0.1:6443", "name": "member-1"})
    with pytest.raises(InvalidApplicationError, match="exactly one of server or name") as err:
        parse_application(doc)
    assert err.value.path == "spec.destination"


def test_destination_without_server_or_name_is_refused() -> None:
    with pytest.raises(InvalidApplicationError, match="exactly one of server or name is required"):
        parse_application(app(destination={"namespace": "web"}))


def test_wrong_type_names_the_field() -> None:
    with pytest.raises(
        InvalidApplicationError, match=r"spec\.syncPolicy\.automated\.selfHeal: expected a boolean"
    ):
        parse_application(app(syncPolicy={"automated": {"selfHeal": "yes"}}))


def test_multiple_sources_are_refused_clearly() -> None:
    with pytest.raises(InvalidApplicationError, match=r"spec\.sources: multiple sources"):
        parse_application(app(sources=[{"repoURL": "https://a"}]))


def test_destination_resolves_by_name() -> None:
    assert resolve_destination(parse_application(app()), CLUSTERS) == "member-1"


def test_destination_resolves_by_server_ignoring_a_trailing_slash() -> None:
    doc = app(destination={"server": "https://10.0.0.2:6443", "namespace": "web"})
    assert resolve_destination(parse_application(doc), CLUSTERS) == "member-2"


def test_unknown_cluster_name_is_reported_as_argo_cd_does() -> None:
    doc = app(destination={"name": "prod", "namespace": "web"})
    with pytest.raises(UnknownDestinationError, match="cluster 'prod' has not been configured"):
        resolve_destination(parse_application(doc), CLUSTERS)


def test_unknown_server_is_reported_as_argo_cd_does() -> None:
    doc = app(destination={"server": "https://10.9.9.9", "namespace": "web"})
    with pytest.raises(
        UnknownDestinationError, match=r"there are no clusters with this URL: https://10\.9\.9\.9$"
    ):
        resolve_destination(parse_application(doc), CLUSTERS)


def test_duplicate_cluster_names_are_ambiguous() -> None:
    with pytest.raises(UnknownDestinationError, match="2 clusters with the same name"):
        resolve_destination(parse_application(app()), [*CLUSTERS, ("member-1", "https://x")])


def test_to_fleet_changes_only_the_api_version() -> None:
    doc = app()
    doc["apiVersion"] = "argoproj.io/v1alpha1"
    moved = to_fleet(doc)
    assert moved["apiVersion"] == "fleet.gitops.dev/v1alpha1"
    assert {k: v for k, v in moved.items() if k != "apiVersion"} == {
        k: v for k, v in doc.items() if k != "apiVersion"
    }


def test_to_fleet_is_a_deep_copy() -> None:
    doc = app()
    to_fleet(doc)["spec"]["source"]["path"] = "changed"
    assert doc["spec"]["source"]["path"] == "web"
