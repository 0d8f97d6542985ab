"""The ApplicationSet document, parsed and checked once, with errors that name the field.

Accepted unchanged under Argo CD's `argoproj.io/v1alpha1` and under fleet's own
`fleet.gitops.dev/v1alpha1`. Fields fleet does not act on in the generators library (syncPolicy
details, strategy, preservedFields, ...) are kept in `raw` for the controller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from generators.errors import InvalidApplicationSetError
from generators.evaluate import validate_entry
from generators.fields import (
    expect_list,
    expect_mapping,
    expect_str,
    optional_bool,
    optional_list,
    optional_mapping,
    optional_str,
    reject_unknown,
)

ARGO_GROUP = "argoproj.io"
FLEET_GROUP = "fleet.gitops.dev"
API_VERSIONS = (f"{ARGO_GROUP}/v1alpha1", f"{FLEET_GROUP}/v1alpha1")
MISSINGKEY_OPTIONS = ("default", "invalid", "zero", "error")

_SPEC_FIELDS = frozenset(
    {
        "generators",
        "template",
        "templatePatch",
        "goTemplate",
        "goTemplateOptions",
        "syncPolicy",
        "strategy",
        "preservedFields",
        "ignoreApplicationDifferences",
        "applyNestedSelectors",
    }
)
_TEMPLATE_FIELDS = frozenset({"metadata", "spec"})


@dataclass(frozen=True, slots=True)
class ApplicationSet:
    api_version: str
    name: str
    namespace: str | None
    generators: tuple[Mapping[str, Any], ...]
    template: Mapping[str, Any]
    template_patch: str | None
    go_template: bool
    missingkey: str
    preserve_resources_on_deletion: bool
    apply_nested_selectors: bool
    raw: Mapping[str, Any]

    @property
    def group(self) -> str:
        return self.api_version.split("/", 1)[0]


def parse_application_set(document: Any, source: str = "") -> ApplicationSet:
    """Validate an ApplicationSet document; `source` (a file name) prefixes error paths."""
    where = f"{source}: " if source else ""
    try:
        return _parse(document)
    except InvalidApplicationSetError as error:
        if not where:
            raise
        raise InvalidApplicationSetError(f"{where}{error.path}", error.detail) from error


def _parse(document: Any) -> ApplicationSet:
    document = expect_mapping(document, "")
    api_version = document.get("apiVersion")
    if api_version not in API_VERSIONS:
        raise InvalidApplicationSetError(
            "apiVersion", f"expected one of {', '.join(API_VERSIONS)}, got {api_version!r}"
        )
    if document.get("kind") != "ApplicationSet":
        raise InvalidApplicationSetError(
            "kind", f"expected ApplicationSet, got {document.get('kind')!r}"
        )
    metadata = optional_mapping(document, "metadata", "")
    name = expect_str(metadata.get("name"), "metadata.name")
    namespace = optional_str(metadata, "namespace", "metadata") or None
    spec = expect_mapping(document.get("spec"), "spec")
    reject_unknown(spec, _SPEC_FIELDS, "spec")

    generators = expect_list(spec.get("generators"), "spec.generators")
    if not generators:
        raise InvalidApplicationSetError("spec.generators", "at least one generator is required")
    for index, entry in enumerate(generators):
        validate_entry(entry, f"spec.generators[{index}]", nested=False)

    template = expect_mapping(spec.get("template"), "spec.template")
    reject_unknown(template, _TEMPLATE_FIELDS, "spec.template")
    optional_mapping(template, "metadata", "spec.template")
    optional_mapping(template, "spec", "spec.template")

    template_patch = spec.get("templatePatch")
    if template_patch is not None:
        expect_str(template_patch, "spec.templatePatch")

    sync_policy = optional_mapping(spec, "syncPolicy", "spec")
    return ApplicationSet(
        api_version=str(api_version),
        name=name,
        namespace=namespace,
        generators=tuple(generators),
        template=template,
        template_patch=template_patch,
        go_template=optional_bool(spec, "goTemplate", "spec"),
        missingkey=_missingkey(optional_list(spec, "goTemplateOptions", "spec")),
        preserve_resources_on_deletion=optional_bool(
            sync_policy, "preserveResourcesOnDeletion", "spec.syncPolicy"
        ),
        apply_nested_selectors=optional_bool(spec, "applyNestedSelectors", "spec"),
        raw=document,
    )


def _missingkey(options: list[Any]) -> str:
    """Go's `template.Option` accepts only `missingkey=...`; anything else is refused here."""
    missingkey = "default"
    for index, option in enumerate(options):
        path = f"spec.goTemplateOptions[{index}]"
        text = expect_str(option, path)
        key, _, value = text.partition("=")
        if key != "missingkey" or value not in MISSINGKEY_OPTIONS:
            raise InvalidApplicationSetError(
                path,
                f"unrecognized option {text!r} "
                f"(expected missingkey={'|'.join(MISSINGKEY_OPTIONS)})",
            )
        missingkey = value
    return missingkey
