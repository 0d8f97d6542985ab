"""Default template mode: Argo CD's fasttemplate `{{key}}` substitution."""

from __future__ import annotations

from typing import Any

import pytest

from generators.base import Environment
from generators.errors import TemplateError
from generators.expand import generate_applications
from generators.templating.fasttemplate import FastTemplateEngine
from tests.generators.support import application_set


def render(template: dict[str, Any], *elements: dict[str, Any]) -> list[dict[str, Any]]:
    appset = application_set(
        {
            "generators": [{"list": {"elements": list(elements)}}],
            "template": template,
        }
    )
    return generate_applications(appset, Environment())


def rendered_field(text: str, params: dict[str, Any]) -> str:
    compiled = FastTemplateEngine().compile(text, "spec.template.spec.project")
    return text if compiled is None else compiled(params)


def test_spaces_inside_the_tag_are_trimmed() -> None:
    assert rendered_field("app-{{ name }}", {"name": "a"}) == "app-a"


def test_tag_is_looked_up_as_a_literal_key_with_brackets() -> None:
    assert rendered_field("{{path[1]}}", {"path[1]": "web"}) == "web"


def test_tag_is_looked_up_as_a_literal_key_with_dots() -> None:
    params = {"metadata.labels.env": "prod"}
    assert rendered_field("{{metadata.labels.env}}", params) == "prod"


def test_unknown_key_is_left_as_written_with_its_spaces() -> None:
    assert rendered_field("x-{{ nope }}-y", {"name": "a"}) == "x-{{ nope }}-y"


def test_non_string_parameter_value_leaves_the_tag_as_written() -> None:
    assert rendered_field("{{replicas}}", {"replicas": 3}) == "{{replicas}}"


def test_empty_tag_is_left_as_written() -> None:
    assert rendered_field("a{{}}b", {"": "x"}) == "a{{}}b"


def test_several_tags_in_one_string_are_all_replaced() -> None:
    assert rendered_field("{{a}}/{{b}}/{{a}}", {"a": "1", "b": "2"}) == "1/2/1"


def test_unclosed_tag_is_an_error_naming_the_field() -> None:
    with pytest.raises(TemplateError) as caught:
        render(
            {"metadata": {"name": "{{name}}"}, "spec": {"project": "{{a}} {{b"}},
            {"name": "x", "a": "1"},
        )
    assert caught.value.field == "spec.template.spec.project"
    assert str(caught.value).startswith(
        "ApplicationSet demo: spec.template.spec.project: invalid template"
    )


def test_tags_split_across_lines_are_not_templated_at_all() -> None:
    text = "{{name\n}} and {{"
    assert rendered_field(text, {"name": "a"}) == text


def test_string_without_tags_is_constant() -> None:
    assert FastTemplateEngine().compile("plain text", "f") is None


def test_mapping_keys_are_templated() -> None:
    template = {
        "metadata": {"name": "{{name}}", "annotations": {"{{name}}-x": "{{name}}"}},
        "spec": {"project": "default"},
    }
    [app] = render(template, {"name": "web"})
    assert app["metadata"]["annotations"] == {"web-x": "web"}


def test_null_values_in_template_mappings_are_dropped() -> None:
    template = {
        "metadata": {"name": "{{name}}"},
        "spec": {"project": "default", "source": {"path": "{{name}}", "chart": None}},
    }
    [app] = render(template, {"name": "web"})
    assert app["spec"]["source"] == {"path": "web"}


def test_numbers_and_booleans_are_kept_untouched() -> None:
    template = {
        "metadata": {"name": "{{name}}"},
        "spec": {"project": "default", "revisionHistoryLimit": 3, "syncPolicy": {"prune": True}},
    }
    [app] = render(template, {"name": "web"})
    assert app["spec"]["revisionHistoryLimit"] == 3
    assert app["spec"]["syncPolicy"] == {"prune": True}


def test_strings_inside_lists_are_templated() -> None:
    template = {
        "metadata": {"name": "{{name}}"},
        "spec": {"project": "default", "source": {"helm": {"valueFiles": ["{{name}}.yaml"]}}},
    }
    [app] = render(template, {"name": "web"})
    assert app["spec"]["source"]["helm"]["valueFiles"] == ["web.yaml"]


def test_empty_parameter_set_renders_the_template_untouched() -> None:
    template = {
        "metadata": {"name": "fixed"},
        "spec": {"project": "{{ project }}", "source": {"path": "{{name}}"}},
    }
    [app] = render(template, {})
    assert app["metadata"]["name"] == "fixed"
    assert app["spec"] == {"project": "{{ project }}", "source": {"path": "{{name}}"}}


def test_empty_parameter_set_does_not_parse_an_unclosed_tag() -> None:
    template = {"metadata": {"name": "fixed"}, "spec": {"project": "{{a}} {{b"}}
    [app] = render(template, {})
    assert app["spec"]["project"] == "{{a}} {{b"


def test_empty_parameter_set_gets_no_default_finalizer() -> None:
    [app] = render({"metadata": {"name": "fixed"}, "spec": {"project": "default"}}, {})
    assert "finalizers" not in app["metadata"]


def test_each_application_gets_its_own_copy_of_constant_containers() -> None:
    template = {
        "metadata": {"name": "{{name}}", "labels": {"team": "core"}},
        "spec": {"project": "default"},
    }
    first, second = render(template, {"name": "a"}, {"name": "b"})
    first["metadata"]["labels"]["team"] = "changed"
    assert second["metadata"]["labels"] == {"team": "core"}
