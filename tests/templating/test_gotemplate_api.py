"""Behaviour of the goTemplate engine that the Go oracle cannot show: the public API, error
types and positions, safety limits, caching and Argo CD's documented examples."""

from __future__ import annotations

import pytest

from generators.errors import TemplateError
from generators.templating.gotemplate import GoTemplate, GoTemplateError, compile_template
from generators.templating.gotemplate import exec as gexec

PARAMS = {
    "name": "guestbook",
    "path": {"path": "apps/guestbook", "basename": "guestbook", "segments": ["apps", "guestbook"]},
    "metadata": {"labels": {"env": "prod"}},
    "replicas": 3,
    "big": 1000000,
}


def render(src: str, data: object = PARAMS, **kw: str) -> str:
    return compile_template(src, **kw).execute(data)


def test_gotemplate_error_is_a_generators_template_error() -> None:
    assert issubclass(GoTemplateError, TemplateError)


def test_compile_template_returns_a_gotemplate() -> None:
    assert isinstance(compile_template("{{.name}}"), GoTemplate)


def test_compile_template_reuses_the_compiled_template_for_the_same_source() -> None:
    assert compile_template("{{.name}}-x") is compile_template("{{.name}}-x")


def test_field_access_renders_nested_map_values() -> None:
    assert render("{{.name}}-{{.path.basename}}") == "guestbook-guestbook"


def test_index_on_labels_map_renders_value() -> None:
    assert render('{{index .metadata.labels "env"}}') == "prod"


def test_integer_parameters_print_as_go_float64() -> None:
    assert render("{{.replicas}} {{.big}}") == "3 1e+06"


def test_comparing_float_parameter_with_int_literal_is_an_error_as_in_go() -> None:
    with pytest.raises(GoTemplateError, match="incompatible types for comparison"):
        render("{{ eq .replicas 3 }}")


def test_missing_key_prints_no_value_by_default() -> None:
    assert render("{{.nope}}") == "<no value>"


def test_missingkey_zero_prints_no_value_for_interface_maps() -> None:
    assert render("{{.nope}}", missingkey="zero") == "<no value>"


def test_missingkey_error_names_the_missing_key() -> None:
    with pytest.raises(GoTemplateError, match='map has no entry for key "nope"'):
        render("{{.path.nope}}", missingkey="error")


def test_unknown_missingkey_option_is_rejected_with_its_name() -> None:
    with pytest.raises(GoTemplateError, match='missingkey="bogus"'):
        compile_template("{{.a}}", missingkey="bogus")


@pytest.mark.parametrize("fn", ["env", "expandenv", "getHostByName"])
def test_environment_functions_are_not_defined(fn: str) -> None:
    with pytest.raises(GoTemplateError, match=f'function "{fn}" not defined'):
        compile_template(f'{{{{ {fn} "HOME" }}}}')


def test_unterminated_action_is_a_parse_error() -> None:
    with pytest.raises(GoTemplateError, match="unclosed action"):
        compile_template("{{ .name ")


def test_parse_error_carries_field_name_and_position() -> None:
    with pytest.raises(GoTemplateError) as info:
        compile_template("ok\n{{ nosuch }}", name="spec.template.metadata.name")
    assert info.value.field == "spec.template.metadata.name"
    assert info.value.position == "2:3"


def test_exec_error_carries_position_and_node() -> None:
    with pytest.raises(GoTemplateError) as info:
        render("abc {{ .path.nope }}", name="spec.project", missingkey="error")
    assert info.value.position == "1:12"
    assert "<.path.nope>" in str(info.value)
    assert str(info.value).startswith("spec.project:1:12: ")


def test_endless_loop_is_stopped_by_the_step_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gexec, "MAX_STEPS", 10_000)
    with pytest.raises(GoTemplateError, match="limit of 10000 steps"):
        render("{{ range 1000000 }}{{ end }}")


def test_huge_output_is_stopped_by_the_output_limit() -> None:
    with pytest.raises(GoTemplateError, match="output exceeds"):
        render('{{ range 100000 }}{{ repeat 100 "x" }}{{ end }}')


def test_huge_repeat_is_refused_before_allocating() -> None:
    with pytest.raises(GoTemplateError, match="error calling repeat"):
        render('{{ repeat 1000000000 "abc" }}')


def test_huge_indent_is_refused_before_allocating() -> None:
    with pytest.raises(GoTemplateError, match="error calling indent"):
        render('{{ indent 1000000000 "a" }}')


def test_unbounded_template_recursion_is_an_error() -> None:
    with pytest.raises(GoTemplateError, match="depth"):
        render('{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}')


def test_deeply_nested_parentheses_are_an_error_not_a_crash() -> None:
    with pytest.raises(GoTemplateError):
        compile_template("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")


def test_python_attributes_are_not_reachable_from_templates() -> None:
    for src in ("{{ .name.upper }}", "{{ .name.__len__ }}", '{{ (semver "1.0.0").major }}'):
        with pytest.raises(GoTemplateError, match="can't evaluate field"):
            render(src, {"name": "x"})


def test_dunder_keys_are_plain_map_lookups() -> None:
    assert render("{{ .__class__ }}", {}) == "<no value>"


def test_execute_does_not_convert_caller_data() -> None:
    data = {"n": 1, "l": [1, 2]}
    assert render("{{ .n }} {{ .l }} {{ toJson . }}", data) == '1 [1 2] {"l":[1,2],"n":1}'
    assert data == {"n": 1, "l": [1, 2]} and type(data["n"]) is int


def test_same_template_renders_different_data() -> None:
    tpl = compile_template("{{ .a }}")
    assert [tpl.execute({"a": "x"}), tpl.execute({"a": "y"})] == ["x", "y"]


# Examples from Argo CD's docs/operator-manual/applicationset/GoTemplate.md -------------------
def test_argo_docs_cluster_name_with_normalize() -> None:
    assert render("{{ .name | normalize }}", {"name": "My_Cluster.Prod"}) == "my-cluster.prod"


def test_argo_docs_default_target_revision() -> None:
    src = '{{ default "HEAD" .targetRevision }}'
    assert render(src, {}) == "HEAD"
    assert render(src, {"targetRevision": "v1"}) == "v1"


def test_argo_docs_path_segments_index() -> None:
    assert render("{{ index .path.segments 1 }}") == "guestbook"


def test_argo_docs_conditional_on_label() -> None:
    src = '{{- if eq .metadata.labels.env "prod" }}prod{{- else }}dev{{- end }}'
    assert render(src) == "prod"


def test_argo_docs_slugify_with_options() -> None:
    assert render('{{ slugify 10 true "Hello Wonderful World" }}') == "hello"


def test_argo_docs_to_yaml_of_map() -> None:
    assert render("{{ toYaml .m }}", {"m": {"b": [1, 2], "a": "x"}}) == "a: x\nb:\n- 1\n- 2"


def test_argo_docs_from_yaml_then_field() -> None:
    assert render("{{ (fromYaml .y).a.b }}", {"y": "a:\n  b: deep\n"}) == "deep"


def test_mapping_subclasses_are_read_like_plain_maps() -> None:
    from collections import OrderedDict

    data = OrderedDict(a=OrderedDict(b="x"), n=2)
    assert render('{{ .a.b }} {{ .a }} {{ .n | printf "%T" }}', data) == "x map[b:x] float64"
