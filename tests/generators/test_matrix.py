"""The matrix generator: every combination of its children's parameter sets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import git
import pytest

from generators.base import Cluster, Environment
from generators.errors import GeneratorError, InvalidApplicationSetError
from generators.expand import expand, generate_applications
from tests.conftest import MakeRepo, commit
from tests.generators.support import application_set, repo_environment

REPO_URL = "https://git.example/org/apps"


def appset(generators: list[dict[str, Any]], name: str = "{{a}}-{{b}}", **spec: Any) -> Any:
    return application_set(
        {
            "generators": generators,
            "template": {"metadata": {"name": name}, "spec": {"project": "default"}},
            **spec,
        }
    )


def matrix(*children: dict[str, Any]) -> dict[str, Any]:
    return {"matrix": {"generators": list(children)}}


def elements(*items: dict[str, Any]) -> dict[str, Any]:
    return {"list": {"elements": list(items)}}


def names(generators: list[dict[str, Any]], env: Environment | None = None, **kw: Any) -> list[str]:
    apps = generate_applications(appset(generators, **kw), env or Environment())
    return [app["metadata"]["name"] for app in apps]


def git_env(repo: Path, **kwargs: Any) -> Environment:
    return repo_environment(REPO_URL, repo, **kwargs)


def test_matrix_renders_the_cartesian_product_in_order() -> None:
    generators = [matrix(elements({"a": "1"}, {"a": "2"}), elements({"b": "x"}, {"b": "y"}))]
    assert names(generators) == ["1-x", "1-y", "2-x", "2-y"]


def test_empty_child_makes_the_product_empty() -> None:
    assert names([matrix(elements({"a": "1"}), elements())]) == []


def test_second_child_is_interpolated_with_the_first_childs_parameters() -> None:
    generators = [matrix(elements({"a": "1"}, {"a": "2"}), elements({"b": "from-{{a}}"}))]
    assert names(generators) == ["1-from-1", "2-from-2"]


def test_git_revision_is_read_from_a_list_element(make_repo: MakeRepo) -> None:
    repo_path = make_repo({"apps/base/f": ""})
    repo = git.Repo(repo_path)
    repo.git.checkout("-b", "staging")
    commit(repo_path, {"apps/canary/f": ""})
    repo.git.checkout("main")
    repo.close()
    git_child = {
        "git": {
            "repoURL": REPO_URL,
            "revision": "{{branch}}",
            "directories": [{"path": "apps/*"}],
        }
    }
    generators = [matrix(elements({"branch": "main"}, {"branch": "staging"}), git_child)]
    assert names(generators, git_env(repo_path), name="{{branch}}-{{path.basename}}") == [
        "main-base",
        "staging-base",
        "staging-canary",
    ]


def test_cluster_selector_is_interpolated_from_a_list_element() -> None:
    env = Environment(
        clusters=(
            Cluster(name="east", server="https://e", labels={"env": "prod"}),
            Cluster(name="west", server="https://w", labels={"env": "dev"}),
        )
    )
    clusters_child = {"clusters": {"selector": {"matchLabels": {"env": "{{env}}"}}}}
    generators = [matrix(elements({"env": "dev"}, {"env": "prod"}), clusters_child)]
    assert names(generators, env, name="{{env}}-{{name}}") == ["dev-west", "prod-east"]


def test_same_key_with_different_values_is_an_error() -> None:
    appset_ = appset([matrix(elements({"a": "1", "b": "x"}), elements({"b": "y"}))])
    with pytest.raises(GeneratorError, match="found duplicate key b with different value"):
        generate_applications(appset_, Environment())


def test_same_key_with_the_same_value_is_accepted() -> None:
    assert names([matrix(elements({"a": "1", "b": "x"}), elements({"b": "x"}))]) == ["1-x"]


def test_three_children_combine() -> None:
    generators = [
        matrix(elements({"a": "1"}, {"a": "2"}), elements({"b": "x"}), elements({"c": "p"}))
    ]
    assert names(generators, name="{{a}}-{{b}}-{{c}}") == ["1-x-p", "2-x-p"]


def test_matrix_nested_in_a_matrix_combines() -> None:
    inner = matrix(elements({"b": "x"}, {"b": "y"}), elements({"c": "p"}))
    generators = [matrix(elements({"a": "1"}), inner)]
    assert names(generators, name="{{a}}-{{b}}-{{c}}") == ["1-x-p", "1-y-p"]


def test_matrix_with_one_child_is_refused() -> None:
    with pytest.raises(InvalidApplicationSetError) as caught:
        appset([matrix(elements({"a": "1"}))])
    assert str(caught.value) == (
        "spec.generators[0].matrix.generators: a matrix generator needs at least two generators"
    )


def test_selector_on_a_matrix_child_filters_its_sets() -> None:
    child = {**elements({"b": "x"}, {"b": "y"}), "selector": {"matchLabels": {"b": "y"}}}
    assert names([matrix(elements({"a": "1"}), child)]) == ["1-y"]


def nested_with_selector() -> list[dict[str, Any]]:
    inner_child = {**elements({"b": "x"}, {"b": "y"}), "selector": {"matchLabels": {"b": "y"}}}
    return [matrix(elements({"a": "1"}), matrix(inner_child, elements({"c": "p"})))]


def test_selector_in_a_nested_matrix_is_ignored_with_a_warning() -> None:
    expansion = expand(appset(nested_with_selector(), name="{{a}}-{{b}}"), Environment())
    assert [app["metadata"]["name"] for app in expansion.applications] == ["1-x", "1-y"]
    assert expansion.warnings == [
        "spec.generators[0].matrix.generators[1].matrix.generators[0].selector is ignored: "
        "set spec.applyNestedSelectors to apply it"
    ]


def test_apply_nested_selectors_applies_a_nested_selector() -> None:
    expansion = expand(
        appset(nested_with_selector(), name="{{a}}-{{b}}", applyNestedSelectors=True),
        Environment(),
    )
    assert [app["metadata"]["name"] for app in expansion.applications] == ["1-y"]
    assert expansion.warnings == []
