"""parse_application_set: the document's shape, checked once, with errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from generators.base import Environment
from generators.errors import InvalidApplicationSetError
from generators.expand import generate_applications
from generators.model import parse_application_set

TEMPLATE = {"metadata": {"name": "{{name}}"}, "spec": {"project": "default"}}


def document(
    generators: list[Any] | None = None,
    *,
    api_version: str = "argoproj.io/v1alpha1",
    **spec: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": "ApplicationSet",
        "metadata": {"name": "demo", "namespace": "argocd"},
        "spec": {
            "generators": [{"list": {"elements": [{"name": "a"}]}}]
            if generators is None
            else generators,
            "template": TEMPLATE,
            **spec,
        },
    }


def parse_error(doc: dict[str, Any]) -> str:
    with pytest.raises(InvalidApplicationSetError) as caught:
        parse_application_set(doc)
    return str(caught.value)


def test_argoproj_api_version_renders_argoproj_applications() -> None:
    appset = parse_application_set(document())
    apps = generate_applications(appset, Environment())
    assert appset.group == "argoproj.io"
    assert [app["apiVersion"] for app in apps] == ["argoproj.io/v1alpha1"]


def test_fleet_api_version_renders_fleet_applications() -> None:
    appset = parse_application_set(document(api_version="fleet.gitops.dev/v1alpha1"))
    apps = generate_applications(appset, Environment())
    assert [app["apiVersion"] for app in apps] == ["fleet.gitops.dev/v1alpha1"]


def test_other_api_version_is_refused_naming_api_version() -> None:
    message = parse_error(document(api_version="argoproj.io/v1beta1"))
    assert message.startswith("apiVersion: ")
    assert "'argoproj.io/v1beta1'" in message


def test_kind_other_than_application_set_is_refused() -> None:
    doc = document()
    doc["kind"] = "Application"
    assert parse_error(doc) == "kind: expected ApplicationSet, got 'Application'"


def test_missing_metadata_name_is_refused() -> None:
    doc = document()
    del doc["metadata"]["name"]
    assert parse_error(doc) == "metadata.name: expected a string, got null"


def test_list_element_that_is_not_a_mapping_is_refused_with_its_path() -> None:
    generators = [
        {"list": {"elements": [{"name": "a"}]}},
        {"list": {"elements": [{"name": "b"}, {"name": "c"}, {"name": "d"}, "oops"]}},
    ]
    assert (
        parse_error(document(generators))
        == "spec.generators[1].list.elements[3]: expected a mapping, got a string"
    )


def test_unknown_generator_key_is_refused_naming_it() -> None:
    message = parse_error(document([{"lists": {"elements": []}}]))
    assert message.startswith("spec.generators[0].lists: unknown generator")


@pytest.mark.parametrize(
    "kind", ["scmProvider", "pullRequest", "plugin", "clusterDecisionResource"]
)
def test_argo_only_generators_are_reported_as_not_supported(kind: str) -> None:
    message = parse_error(document([{kind: {}}]))
    assert message.startswith(f"spec.generators[0].{kind}: the {kind} generator is not supported")


def test_empty_generators_list_is_refused() -> None:
    assert parse_error(document([])) == "spec.generators: at least one generator is required"


def test_generator_entry_naming_no_generator_is_refused() -> None:
    message = parse_error(document([{"selector": {"matchLabels": {"a": "b"}}}]))
    assert message.startswith("spec.generators[0]: no generator given")


def test_unrecognized_go_template_option_is_refused() -> None:
    message = parse_error(document(goTemplate=True, goTemplateOptions=["missingkey=panic"]))
    assert message.startswith("spec.goTemplateOptions[0]: unrecognized option 'missingkey=panic'")


def test_go_template_option_missingkey_error_is_accepted() -> None:
    appset = parse_application_set(
        document(goTemplate=True, goTemplateOptions=["missingkey=error"])
    )
    assert appset.missingkey == "error"


def test_unknown_spec_field_is_refused_naming_it() -> None:
    message = parse_error(document(generator=[]))
    assert message.startswith("spec.generator: unknown field")


def test_unknown_template_field_is_refused_naming_it() -> None:
    doc = document()
    doc["spec"]["template"] = {**TEMPLATE, "status": {}}
    assert parse_error(doc).startswith("spec.template.status: unknown field")


def test_go_template_must_be_a_boolean() -> None:
    assert parse_error(document(goTemplate="yes")) == (
        "spec.goTemplate: expected a boolean, got a string"
    )


def test_source_file_name_prefixes_the_error_path() -> None:
    with pytest.raises(InvalidApplicationSetError) as caught:
        parse_application_set(document([]), "apps.yaml")
    assert str(caught.value) == "apps.yaml: spec.generators: at least one generator is required"
