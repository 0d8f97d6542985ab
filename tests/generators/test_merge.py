"""The merge generator: base parameter sets overridden by matching sets of later generators."""

from __future__ import annotations

from typing import Any

import pytest

from generators.base import Environment
from generators.errors import GeneratorError, InvalidApplicationSetError
from generators.expand import generate_applications
from tests.generators.support import application_set


def appset(merge_spec: dict[str, Any]) -> Any:
    return application_set(
        {
            "generators": [{"merge": merge_spec}],
            "template": {
                "metadata": {"name": "{{name}}"},
                "spec": {"project": "default", "source": {"targetRevision": "{{rev}}"}},
            },
        }
    )


def elements(*items: dict[str, Any]) -> dict[str, Any]:
    return {"list": {"elements": list(items)}}


def revisions(*children: dict[str, Any], keys: list[str] | None = None) -> dict[str, str]:
    spec = {"generators": list(children), "mergeKeys": keys or ["name"]}
    apps = generate_applications(appset(spec), Environment())
    return {app["metadata"]["name"]: app["spec"]["source"]["targetRevision"] for app in apps}


BASE = elements(
    {"name": "c", "rev": "main"}, {"name": "a", "rev": "main"}, {"name": "b", "rev": "main"}
)


def test_base_order_is_kept() -> None:
    assert list(revisions(BASE, elements({"name": "a", "rev": "v2"}))) == ["c", "a", "b"]


def test_matching_sets_override_the_base() -> None:
    assert revisions(BASE, elements({"name": "b", "rev": "v2"})) == {
        "c": "main",
        "a": "main",
        "b": "v2",
    }


def test_non_matching_override_sets_are_dropped() -> None:
    assert revisions(BASE, elements({"name": "zzz", "rev": "v2"})) == {
        "c": "main",
        "a": "main",
        "b": "main",
    }


def test_later_generators_win_over_earlier_ones() -> None:
    result = revisions(
        BASE, elements({"name": "a", "rev": "v2"}), elements({"name": "a", "rev": "v3"})
    )
    assert result["a"] == "v3"


def test_override_adds_new_keys_to_the_base_set() -> None:
    spec = {
        "generators": [elements({"name": "a"}), elements({"name": "a", "rev": "v9"})],
        "mergeKeys": ["name"],
    }
    [app] = generate_applications(appset(spec), Environment())
    assert app["spec"]["source"]["targetRevision"] == "v9"


def test_sets_match_only_when_every_merge_key_agrees() -> None:
    base = elements({"name": "a", "env": "prod", "rev": "main"})
    override = elements(
        {"name": "a", "env": "dev", "rev": "dev-rev"}, {"name": "a", "env": "prod", "rev": "v2"}
    )
    assert revisions(base, override, keys=["name", "env"]) == {"a": "v2"}


def test_duplicate_merge_key_in_the_base_is_an_error() -> None:
    spec = {
        "generators": [elements({"name": "a"}, {"name": "a"}), elements({"name": "b"})],
        "mergeKeys": ["name"],
    }
    with pytest.raises(GeneratorError, match="not unique by the merge keys") as caught:
        generate_applications(appset(spec), Environment())
    assert str(caught.value).startswith(
        "ApplicationSet demo: spec.generators[0].merge.generators[0]: "
    )


def test_duplicate_merge_key_in_an_override_child_is_an_error() -> None:
    spec = {
        "generators": [elements({"name": "a"}), elements({"name": "a"}, {"name": "a"})],
        "mergeKeys": ["name"],
    }
    with pytest.raises(GeneratorError) as caught:
        generate_applications(appset(spec), Environment())
    assert str(caught.value).startswith(
        "ApplicationSet demo: spec.generators[0].merge.generators[1]: "
    )


def test_merge_keys_are_required() -> None:
    with pytest.raises(InvalidApplicationSetError) as caught:
        appset({"generators": [elements({"name": "a"}), elements({"name": "a"})]})
    assert caught.value.path == "spec.generators[0].merge.mergeKeys"


def test_merge_of_a_matrix_and_a_list() -> None:
    matrix = {
        "matrix": {
            "generators": [
                elements({"name": "a"}, {"name": "b"}),
                elements({"rev": "main"}),
            ]
        }
    }
    assert revisions(matrix, elements({"name": "b", "rev": "v2"})) == {"a": "main", "b": "v2"}
