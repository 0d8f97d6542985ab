"""The clusters generator: one parameter set per registered cluster the selector matches."""

from __future__ import annotations

from typing import Any

import pytest

from generators.base import Cluster, Environment
from generators.errors import GeneratorError, InvalidApplicationSetError
from generators.expand import generate_applications
from tests.generators.support import application_set

IN_CLUSTER = "https://kubernetes.default.svc"
EAST = Cluster(
    name="east",
    server="https://east.example",
    labels={"env": "prod", "region": "us"},
    annotations={"owner": "team-a"},
    project="infra",
)
WEST = Cluster(name="west", server="https://west.example", labels={"env": "staging"})
DEV = Cluster(name="dev", server="https://dev.example")
CLUSTERS = (EAST, WEST, DEV)


def appset(clusters_spec: dict[str, Any], template: dict[str, Any] | None = None) -> Any:
    return application_set(
        {
            "generators": [{"clusters": clusters_spec}],
            "template": template
            or {
                "metadata": {"name": "app-{{nameNormalized}}"},
                "spec": {"project": "default", "destination": {"server": "{{server}}"}},
            },
        }
    )


def render(
    clusters_spec: dict[str, Any],
    env: Environment | None = None,
    template: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    return generate_applications(
        appset(clusters_spec, template), env or Environment(clusters=CLUSTERS)
    )


def names(clusters_spec: dict[str, Any], env: Environment | None = None) -> list[str]:
    return [app["metadata"]["name"] for app in render(clusters_spec, env)]


def param_template(value: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "app-{{nameNormalized}}"},
        "spec": {"project": "default", "source": {"path": value}},
    }


def test_empty_selector_targets_in_cluster_first_then_every_cluster() -> None:
    assert names({}) == ["app-in-cluster", "app-east", "app-west", "app-dev"]


def test_in_cluster_parameters_name_the_local_server() -> None:
    [app] = render({}, Environment())
    assert app["metadata"]["name"] == "app-in-cluster"
    assert app["spec"]["destination"] == {"server": IN_CLUSTER}


def test_selector_excludes_in_cluster() -> None:
    assert names({"selector": {"matchExpressions": [{"key": "env", "operator": "Exists"}]}}) == [
        "app-east",
        "app-west",
    ]


def test_registered_cluster_with_the_local_server_replaces_in_cluster() -> None:
    local = Cluster(name="hub", server=IN_CLUSTER)
    assert names({}, Environment(clusters=(local, WEST))) == ["app-hub", "app-west"]


def test_in_cluster_disabled_is_never_a_target() -> None:
    env = Environment(clusters=(WEST,), in_cluster_enabled=False)
    assert names({}, env) == ["app-west"]


def test_no_registered_clusters_and_in_cluster_disabled_renders_nothing() -> None:
    assert names({}, Environment(in_cluster_enabled=False)) == []


def test_cluster_name_parameter_is_the_registered_name() -> None:
    template = {"metadata": {"name": "x-{{nameNormalized}}"}, "spec": {"project": "{{name}}"}}
    env = Environment(clusters=(Cluster(name="My_Cluster", server="https://m"),))
    apps = render({"selector": {"matchLabels": {}}}, env, template)
    assert [app["spec"]["project"] for app in apps] == ["in-cluster", "My_Cluster"]


def test_name_normalized_is_sanitized_for_kubernetes_names() -> None:
    env = Environment(clusters=(Cluster(name="My_Cluster", server="https://m"),))
    assert names({}, env) == ["app-in-cluster", "app-my-cluster"]


def test_project_parameter_is_the_cluster_project() -> None:
    apps = render(
        {"selector": {"matchLabels": {"region": "us"}}}, None, param_template("{{project}}")
    )
    assert [app["spec"]["source"]["path"] for app in apps] == ["infra"]


def test_cluster_labels_are_metadata_labels_parameters() -> None:
    selector = {"matchLabels": {"region": "us"}}
    [app] = render({"selector": selector}, None, param_template("{{metadata.labels.env}}"))
    assert app["spec"]["source"]["path"] == "prod"


def test_cluster_annotations_are_metadata_annotations_parameters() -> None:
    selector = {"matchLabels": {"region": "us"}}
    [app] = render({"selector": selector}, None, param_template("{{metadata.annotations.owner}}"))
    assert app["spec"]["source"]["path"] == "team-a"


def test_registered_clusters_carry_the_secret_type_label_parameter() -> None:
    template = param_template("{{metadata.labels.argocd.argoproj.io/secret-type}}")
    [app] = render({"selector": {"matchLabels": {"env": "staging"}}}, None, template)
    assert app["spec"]["source"]["path"] == "cluster"


def test_secret_type_selector_selects_every_registered_cluster_but_not_in_cluster() -> None:
    selector = {"matchLabels": {"argocd.argoproj.io/secret-type": "cluster"}}
    assert names({"selector": selector}) == ["app-east", "app-west", "app-dev"]


def test_match_labels_selects_clusters_with_every_label() -> None:
    selector = {"matchLabels": {"env": "prod", "region": "us"}}
    assert names({"selector": selector}) == ["app-east"]


def test_match_expressions_in() -> None:
    expression = {"key": "env", "operator": "In", "values": ["prod", "staging"]}
    assert names({"selector": {"matchExpressions": [expression]}}) == ["app-east", "app-west"]


def test_match_expressions_not_in_matches_clusters_lacking_the_key() -> None:
    expression = {"key": "env", "operator": "NotIn", "values": ["prod"]}
    assert names({"selector": {"matchExpressions": [expression]}}) == ["app-west", "app-dev"]


def test_match_expressions_exists() -> None:
    expression = {"key": "region", "operator": "Exists"}
    assert names({"selector": {"matchExpressions": [expression]}}) == ["app-east"]


def test_match_expressions_does_not_exist() -> None:
    expression = {"key": "env", "operator": "DoesNotExist"}
    assert names({"selector": {"matchExpressions": [expression]}}) == ["app-dev"]


def test_match_labels_and_expressions_must_all_hold() -> None:
    selector = {
        "matchLabels": {"env": "prod"},
        "matchExpressions": [{"key": "region", "operator": "NotIn", "values": ["us"]}],
    }
    assert names({"selector": selector}) == []


def test_invalid_selector_operator_is_refused_naming_the_field() -> None:
    selector = {"matchExpressions": [{"key": "env", "operator": "Equals", "values": ["a"]}]}
    with pytest.raises(InvalidApplicationSetError) as caught:
        appset({"selector": selector})
    assert caught.value.path == (
        "spec.generators[0].clusters.selector.matchExpressions[0].operator"
    )
    assert "'Equals' is not a valid label selector operator" in caught.value.detail


def test_values_are_templated_with_the_clusters_own_parameters() -> None:
    spec = {"selector": {"matchLabels": {"env": "prod"}}, "values": {"dir": "envs/{{name}}"}}
    [app] = render(spec, None, param_template("{{values.dir}}"))
    assert app["spec"]["source"]["path"] == "envs/east"


def test_values_are_added_for_in_cluster_too() -> None:
    apps = render(
        {"values": {"dir": "envs/{{name}}"}}, Environment(), param_template("{{values.dir}}")
    )
    assert [app["spec"]["source"]["path"] for app in apps] == ["envs/in-cluster"]


def test_a_value_cannot_see_another_value() -> None:
    spec = {
        "selector": {"matchLabels": {"env": "prod"}},
        "values": {"a": "x", "b": "{{values.a}}-y"},
    }
    [app] = render(spec, None, param_template("{{values.b}}"))
    assert app["spec"]["source"]["path"] == "{{values.a}}-y"


def test_value_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(InvalidApplicationSetError) as caught:
        appset({"values": {"replicas": 3}})
    assert str(caught.value) == (
        "spec.generators[0].clusters.values.replicas: expected a string, got a number"
    )


def test_unavailable_cluster_list_is_an_error_naming_the_generator_not_an_empty_list() -> None:
    env = Environment(clusters=(), clusters_error="hub watch failing")
    with pytest.raises(GeneratorError, match=r"spec\.generators\[0\]\.clusters: the cluster list"):
        render({}, env)
