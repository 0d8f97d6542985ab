"""expand(): ApplicationSet -> Applications, as Argo CD's GenerateApplications does it."""

from __future__ import annotations

from typing import Any

import pytest

from generators.base import Environment
from generators.errors import ApplicationNameError, GeneratorError, TemplateError
from generators.expand import expand, generate_applications
from generators.model import parse_application_set

TEMPLATE: dict[str, Any] = {
    "metadata": {"name": "{{name}}", "labels": {"team": "core"}},
    "spec": {
        "project": "default",
        "source": {"repoURL": "https://git.example/r", "path": "apps/{{name}}"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "{{name}}"},
    },
}


def appset(
    generators: list[dict[str, Any]],
    template: dict[str, Any] | None = None,
    *,
    namespace: str | None = "argocd",
    api_version: str = "argoproj.io/v1alpha1",
    **spec: Any,
) -> Any:
    metadata: dict[str, Any] = {"name": "demo"}
    if namespace:
        metadata["namespace"] = namespace
    return parse_application_set(
        {
            "apiVersion": api_version,
            "kind": "ApplicationSet",
            "metadata": metadata,
            "spec": {"generators": generators, "template": template or TEMPLATE, **spec},
        }
    )


def elements(*names: str, template: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"elements": [{"name": name} for name in names]}
    if template is not None:
        spec["template"] = template
    return {"list": spec}


def render(generators: list[dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
    return generate_applications(appset(generators, **kwargs), Environment())


def test_application_has_kind_api_version_and_rendered_spec() -> None:
    [app] = render([elements("web")])
    assert app["kind"] == "Application"
    assert app["apiVersion"] == "argoproj.io/v1alpha1"
    assert app["metadata"]["name"] == "web"
    assert app["spec"]["source"]["path"] == "apps/web"
    assert app["spec"]["destination"]["namespace"] == "web"


def test_generator_template_overrides_fields_of_spec_template() -> None:
    override = {"spec": {"source": {"path": "custom/{{name}}"}}}
    [app] = render([elements("web", template=override)])
    assert app["spec"]["source"] == {"repoURL": "https://git.example/r", "path": "custom/web"}


def test_generator_template_inherits_the_rest_of_spec_template() -> None:
    override = {"metadata": {"name": "x-{{name}}"}}
    [app] = render([elements("web", template=override)])
    assert app["metadata"]["name"] == "x-web"
    assert app["metadata"]["labels"] == {"team": "core"}
    assert app["spec"]["project"] == "default"


def test_generator_template_applies_only_to_its_own_generator() -> None:
    override = {"metadata": {"name": "x-{{name}}"}}
    apps = render([elements("a", template=override), elements("b")])
    assert [app["metadata"]["name"] for app in apps] == ["x-a", "b"]


def test_false_in_generator_template_is_filled_from_spec_template() -> None:
    template = {**TEMPLATE, "spec": {**TEMPLATE["spec"], "syncPolicy": {"automated": True}}}
    override = {"spec": {"syncPolicy": {"automated": False}}}
    [app] = render([elements("web", template=override)], template=template)
    assert app["spec"]["syncPolicy"] == {"automated": True}


def test_empty_string_in_generator_template_is_filled_from_spec_template() -> None:
    override = {"spec": {"project": ""}}
    [app] = render([elements("web", template=override)])
    assert app["spec"]["project"] == "default"


def test_generator_selector_filters_parameter_sets_on_their_values() -> None:
    entry = {
        "list": {"elements": [{"name": "a", "env": "prod"}, {"name": "b", "env": "dev"}]},
        "selector": {"matchLabels": {"env": "prod"}},
    }
    assert [app["metadata"]["name"] for app in render([entry])] == ["a"]


def test_generator_selector_not_in_keeps_sets_without_the_key() -> None:
    entry = {
        "list": {"elements": [{"name": "a", "env": "prod"}, {"name": "b"}]},
        "selector": {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]},
    }
    assert [app["metadata"]["name"] for app in render([entry])] == ["b"]


def test_duplicate_application_names_are_an_error_and_leave_the_expansion_incomplete() -> None:
    expansion = expand(appset([elements("web"), elements("web", "api")]), Environment())
    assert [app["metadata"]["name"] for app in expansion.applications] == ["web", "api"]
    assert not expansion.complete
    [error] = expansion.errors
    assert isinstance(error, ApplicationNameError)
    assert str(error).startswith(
        "ApplicationSet demo: spec.generators[1]: generates Application 'web' again"
    )


def test_generate_applications_raises_the_first_error() -> None:
    with pytest.raises(ApplicationNameError, match="'web' again"):
        render([elements("web", "web")])


def test_invalid_rendered_name_is_an_error() -> None:
    with pytest.raises(ApplicationNameError) as caught:
        render([elements("My_App")])
    assert "rendered 'My_App', not a valid Kubernetes name" in str(caught.value)


def test_empty_rendered_name_is_an_error() -> None:
    template = {**TEMPLATE, "metadata": {"name": "{{missing}}"}}
    with pytest.raises(ApplicationNameError):
        render([{"list": {"elements": [{"missing": ""}]}}], template=template)


def test_failing_generator_does_not_stop_another_generators_applications() -> None:
    broken = {"git": {"repoURL": "https://git.example/r", "directories": [{"path": "*"}]}}
    expansion = expand(appset([broken, elements("web")]), Environment())
    assert [app["metadata"]["name"] for app in expansion.applications] == ["web"]
    assert not expansion.complete
    assert len(expansion.errors) == 1


def test_one_bad_parameter_set_does_not_stop_the_others() -> None:
    expansion = expand(appset([elements("ok", "Not_OK", "fine")]), Environment())
    assert [app["metadata"]["name"] for app in expansion.applications] == ["ok", "fine"]
    assert not expansion.complete


def test_complete_expansion_has_no_errors() -> None:
    expansion = expand(appset([elements("a", "b")]), Environment())
    assert expansion.complete
    assert expansion.errors == []


def test_broken_generator_template_is_recorded_and_other_generators_still_render() -> None:
    broken = elements("a", template={"spec": {"project": "{{name}} {{oops"}})
    expansion = expand(appset([broken, elements("b")]), Environment())
    assert [app["metadata"]["name"] for app in expansion.applications] == ["b"]
    [error] = expansion.errors
    assert isinstance(error, TemplateError)
    assert error.field == "spec.template.spec.project"


def test_default_finalizer_is_added() -> None:
    [app] = render([elements("web")])
    assert app["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]


def test_fleet_group_adds_the_fleet_finalizer() -> None:
    [app] = render([elements("web")], api_version="fleet.gitops.dev/v1alpha1")
    assert app["metadata"]["finalizers"] == ["resources-finalizer.fleet.gitops.dev"]


def test_template_finalizers_replace_the_default_finalizer() -> None:
    template = {**TEMPLATE, "metadata": {"name": "{{name}}", "finalizers": ["custom/x"]}}
    [app] = render([elements("web")], template=template)
    assert app["metadata"]["finalizers"] == ["custom/x"]


def test_preserve_resources_on_deletion_adds_no_finalizer() -> None:
    [app] = render([elements("web")], syncPolicy={"preserveResourcesOnDeletion": True})
    assert "finalizers" not in app["metadata"]


def test_application_namespace_is_the_application_sets_namespace() -> None:
    template = {**TEMPLATE, "metadata": {"name": "{{name}}", "namespace": "elsewhere"}}
    [app] = render([elements("web")], template=template)
    assert app["metadata"]["namespace"] == "argocd"


def test_only_metadata_fields_an_application_has_are_kept() -> None:
    template = {
        **TEMPLATE,
        "metadata": {
            "name": "{{name}}",
            "annotations": {"a": "{{name}}"},
            "labels": {},
            "generateName": "x",
        },
    }
    [app] = render([elements("web")], template=template)
    assert app["metadata"] == {
        "name": "web",
        "annotations": {"a": "web"},
        "namespace": "argocd",
        "finalizers": ["resources-finalizer.argocd.argoproj.io"],
    }


def test_template_patch_merges_maps() -> None:
    patch = "spec:\n  source:\n    targetRevision: '{{name}}-branch'\n"
    [app] = render([elements("web")], templatePatch=patch)
    assert app["spec"]["source"] == {
        "repoURL": "https://git.example/r",
        "path": "apps/web",
        "targetRevision": "web-branch",
    }


def test_template_patch_replaces_lists() -> None:
    template = {**TEMPLATE, "spec": {**TEMPLATE["spec"], "syncPolicy": {"syncOptions": ["A=1"]}}}
    patch = "spec:\n  syncPolicy:\n    syncOptions: [B=2]\n"
    [app] = render([elements("web")], template=template, templatePatch=patch)
    assert app["spec"]["syncPolicy"]["syncOptions"] == ["B=2"]


def test_template_patch_finalizers_are_added_to_the_default() -> None:
    patch = "metadata:\n  finalizers: [custom/x]\n"
    [app] = render([elements("web")], templatePatch=patch)
    assert app["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io", "custom/x"]


def test_template_patch_null_removes_a_field() -> None:
    patch = "spec:\n  source:\n    path: null\n"
    [app] = render([elements("web")], templatePatch=patch)
    assert "path" not in app["spec"]["source"]


def test_template_patch_that_is_not_yaml_is_an_error_naming_it() -> None:
    with pytest.raises(TemplateError) as caught:
        render([elements("web")], templatePatch="spec: [unclosed\n")
    assert caught.value.field == "spec.templatePatch"


def test_template_patch_cannot_change_the_project() -> None:
    patch = "spec:\n  project: '{{name}}-team'\n"
    with pytest.raises(TemplateError, match=r"templatePatch cannot change spec\.project") as caught:
        render([elements("web")], templatePatch=patch)
    assert caught.value.field == "spec.templatePatch"


def test_template_patch_may_repeat_the_templates_project() -> None:
    project = TEMPLATE["spec"].get("project", "default")
    [app] = render([elements("web")], templatePatch=f"spec:\n  project: {project}\n")
    assert app["spec"].get("project", "default") == project


def test_template_patch_that_is_not_a_mapping_is_an_error() -> None:
    with pytest.raises(TemplateError, match="not a mapping"):
        render([elements("web")], templatePatch="- a\n")


def test_one_entry_naming_two_generators_yields_both() -> None:
    entry = {
        "list": {"elements": [{"name": "from-list"}]},
        "clusters": {"selector": {"matchLabels": {"none": "x"}}},
    }
    assert [app["metadata"]["name"] for app in render([entry])] == ["from-list"]


def test_errors_are_generator_errors() -> None:
    expansion = expand(appset([elements("Bad_Name")]), Environment())
    assert all(isinstance(error, GeneratorError) for error in expansion.errors)
    assert expansion.errors


def test_go_template_selector_matches_nested_parameters() -> None:
    entry = {
        "list": {
            "elements": [
                {"name": "a", "meta": {"env": "prod"}},
                {"name": "b", "meta": {"env": "dev"}},
            ]
        },
        "selector": {"matchLabels": {"meta.env": "prod"}},
    }
    template = {"metadata": {"name": "{{.name}}"}, "spec": {"project": "default"}}
    apps = generate_applications(appset([entry], template=template, goTemplate=True), Environment())
    assert [app["metadata"]["name"] for app in apps] == ["a"]
