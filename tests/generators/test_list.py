"""The list generator: literal parameter sets from `elements` and `elementsYaml`."""

from __future__ import annotations

from typing import Any

import pytest

from generators.base import Environment
from generators.errors import InvalidApplicationSetError
from generators.expand import generate_applications
from tests.generators.support import application_set

TEMPLATE = {
    "metadata": {"name": "{{name}}"},
    "spec": {"project": "default", "destination": {"namespace": "{{values.ns}}"}},
}


def appset(list_spec: dict[str, Any], *, template: dict[str, Any] | None = None) -> Any:
    return application_set({"generators": [{"list": list_spec}], "template": template or TEMPLATE})


def names(list_spec: dict[str, Any]) -> list[str]:
    apps = generate_applications(appset(list_spec), Environment())
    return [app["metadata"]["name"] for app in apps]


def test_each_element_renders_one_application_in_order() -> None:
    assert names({"elements": [{"name": "b"}, {"name": "a"}, {"name": "c"}]}) == ["b", "a", "c"]


def test_element_keys_are_parameters() -> None:
    template = {"metadata": {"name": "{{cluster}}-app"}, "spec": {"project": "{{project}}"}}
    [app] = generate_applications(
        appset({"elements": [{"cluster": "east", "project": "team"}]}, template=template),
        Environment(),
    )
    assert app["metadata"]["name"] == "east-app"
    assert app["spec"]["project"] == "team"


def test_list_element_values_become_values_dot_parameters() -> None:
    [app] = generate_applications(
        appset({"elements": [{"name": "a", "values": {"ns": "team-a"}}]}), Environment()
    )
    assert app["spec"]["destination"] == {"namespace": "team-a"}


def test_non_string_element_value_is_an_error_suggesting_go_template() -> None:
    spec = {"elements": [{"name": "a"}, {"name": "b", "replicas": 3}]}
    with pytest.raises(InvalidApplicationSetError) as caught:
        generate_applications(appset(spec), Environment())
    assert caught.value.path == "spec.generators[0].list.elements[1].replicas"
    assert "got a number" in caught.value.detail
    assert "goTemplate: true" in caught.value.detail


def test_nested_value_under_values_is_an_error_naming_it() -> None:
    spec = {"elements": [{"name": "a", "values": {"ns": {"deep": "x"}}}]}
    with pytest.raises(InvalidApplicationSetError) as caught:
        generate_applications(appset(spec), Environment())
    assert caught.value.path == "spec.generators[0].list.elements[0].values.ns"
    assert "goTemplate: true" in caught.value.detail


def test_elements_yaml_is_appended_after_elements() -> None:
    spec = {"elements": [{"name": "first"}], "elementsYaml": "- name: second\n- name: third\n"}
    assert names(spec) == ["first", "second", "third"]


def test_elements_yaml_alone_generates_its_elements() -> None:
    assert names({"elementsYaml": "[{name: x}, {name: y}]"}) == ["x", "y"]


def test_malformed_elements_yaml_names_the_field_and_the_line() -> None:
    spec = {"elementsYaml": "- name: a\n- name: [b\n- name: c\n"}
    with pytest.raises(InvalidApplicationSetError) as caught:
        generate_applications(appset(spec), Environment())
    assert caught.value.path == "spec.generators[0].list.elementsYaml"
    assert caught.value.detail.startswith("line ")


def test_elements_yaml_that_is_not_a_list_is_refused() -> None:
    with pytest.raises(InvalidApplicationSetError) as caught:
        generate_applications(appset({"elementsYaml": "name: a"}), Environment())
    assert str(caught.value) == (
        "ApplicationSet demo: spec.generators[0].list.elementsYaml: "
        "expected a list of mappings, got a mapping"
    )


def test_unknown_list_field_is_refused() -> None:
    with pytest.raises(InvalidApplicationSetError) as caught:
        appset({"element": [{"name": "a"}]})
    assert caught.value.path == "spec.generators[0].list.element"


def test_empty_list_renders_no_applications() -> None:
    assert names({"elements": []}) == []
