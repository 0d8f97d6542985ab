"""ApplicationSet -> Applications: Argo CD's `GenerateApplications`, without the Kubernetes parts.

Each top-level generator yields parameter sets and a template (its own `template` filled in from
`spec.template`); every parameter set renders one Application. A failure in one generator or one
parameter set is recorded and the rest still render, so a controller can create and update what
did evaluate; but an `Expansion` with errors is incomplete and must never be read as "these are all
the Applications": deleting on an incomplete expansion is how workloads are lost.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from generators import limits
from generators.base import Environment, ParamSet
from generators.errors import (
    ApplicationNameError,
    GeneratorError,
    LimitExceededError,
    TemplateError,
)
from generators.evaluate import Evaluation, entry_kinds
from generators.fields import expect_mapping
from generators.limits import Budget, ExpansionLimits
from generators.merging import fill_empty, strategic_merge
from generators.model import ARGO_GROUP, ApplicationSet
from generators.templating import Engine, Params, StringRender
from generators.templating.fasttemplate import FastTemplateEngine
from generators.templating.tree import TreeRender, compile_tree
from generators.yamlio import describe_yaml_error, load

_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_METADATA_FIELDS = ("name", "namespace", "labels", "annotations", "finalizers")
FINALIZERS = {
    ARGO_GROUP: "resources-finalizer.argocd.argoproj.io",
    "fleet.gitops.dev": "resources-finalizer.fleet.gitops.dev",
}


@dataclass
class Expansion:
    applications: list[dict[str, Any]] = field(default_factory=list)
    errors: list[GeneratorError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """False when any generator or parameter set failed: the list may be missing entries."""
        return not self.errors


def engine_for(appset: ApplicationSet) -> Engine:
    if appset.go_template:
        from generators.templating.goengine import GoTemplateEngine

        return GoTemplateEngine(appset.missingkey)
    return FastTemplateEngine()


class _SizeMeter:
    """An Engine wrapper counting what one Application's templated strings render to.

    Each field is already capped, but a template with thousands of fields could still add up
    to gigabytes: the running count stops the Application at its size limit instead."""

    def __init__(self, engine: Engine, limit: int) -> None:
        self.engine = engine
        self.limit = limit
        self.rendered = 0

    def compile(self, source: str, field: str) -> StringRender | None:
        render = self.engine.compile(source, field)
        if render is None:
            return None
        inner = render

        def metered(params: Params) -> str:
            out = inner(params)
            self.rendered += len(out)
            if self.rendered > self.limit:
                raise limits.application_size_error(self.limit, field)
            return out

        return metered


def expand(
    appset: ApplicationSet, env: Environment, bounds: ExpansionLimits = limits.DEFAULT_LIMITS
) -> Expansion:
    """Every Application the ApplicationSet generates, with the errors that stopped any.

    `bounds` limits time, memory and size (see generators.limits); an expansion stopped by a
    limit reports it as an error, so it is incomplete and deletes nothing downstream."""
    budget = Budget(bounds)
    with limits.activated(budget):
        return _expand(appset, env, budget)


def _expand(appset: ApplicationSet, env: Environment, budget: Budget) -> Expansion:
    run = Evaluation(appset, env, engine_for(appset))
    result = Expansion()
    origins: dict[str, str] = {}
    max_app = budget.limits.max_application_bytes
    max_total = budget.limits.max_expansion_bytes
    for index, entry in enumerate(appset.generators):
        path = f"spec.generators[{index}]"
        for kind in entry_kinds(entry, path):
            if _stopped(budget, result, path):
                break
            meter = _SizeMeter(run.engine, max_app)
            try:
                own = expect_mapping(entry[kind].get("template") or {}, f"{path}.{kind}.template")
                template = fill_empty(own, appset.template)
                params = run.evaluate(entry, path, kind=kind)
                # An empty parameter set renders nothing, so a template only it uses is not parsed.
                render = compile_tree(template, meter, "spec.template") if any(params) else None
                # The template's own size (templatePatch output is not metered: measure
                # those Applications exactly).
                fixed = len(json.dumps(template, default=str)) if render is not None else 0
                if appset.template_patch:
                    fixed = max_app + 1
            except GeneratorError as error:
                result.errors.append(error)
                continue
            for param_set in params:
                if (budget.applications_bytes > max_total or budget.expired()) and _stopped(
                    budget, result, path
                ):
                    break
                meter.rendered = 0
                try:
                    app = _application(appset, run, render, template, param_set, path)
                    size = _size(app, meter.rendered + fixed, max_app)
                    budget.count_application(size, path)
                except GeneratorError as error:
                    result.errors.append(error)
                    continue
                name = app["metadata"]["name"]
                if name in origins:
                    result.errors.append(
                        ApplicationNameError(
                            f"{path}: generates Application {name!r} again "
                            f"(first generated by {origins[name]}); names must be unique"
                        )
                    )
                    continue
                origins[name] = path
                result.applications.append(app)
    result.warnings.extend(run.warnings)
    for failure in result.errors:
        # Name the ApplicationSet: a controller reports errors of many ApplicationSets in one log.
        failure.args = (f"ApplicationSet {appset.name}: {failure.args[0]}", *failure.args[1:])
    return result


def _stopped(budget: Budget, result: Expansion, path: str) -> bool:
    """Past the deadline, or over the expansion's size: stop, recording why once."""
    stop = budget.expired() or budget.applications_bytes > budget.limits.max_expansion_bytes
    if stop and not any(isinstance(e, LimitExceededError) for e in result.errors):
        try:
            budget.check_time(path)
            budget.count_application(0, path)
        except LimitExceededError as error:
            result.errors.append(error)
    return stop


def _size(app: dict[str, Any], estimate: int, limit: int) -> int:
    """About the Application's JSON size: rendered strings plus the template, which counts
    templated sources twice; measured exactly only when that estimate is over the limit."""
    if estimate <= limit:
        return estimate
    exact = len(json.dumps(app, default=str))
    if exact > limit:
        raise limits.application_size_error(limit, "spec.template")
    return exact


def generate_applications(appset: ApplicationSet, env: Environment) -> list[dict[str, Any]]:
    """All Applications, or the first error: for callers that must not act on a partial list."""
    expansion = expand(appset, env)
    if expansion.errors:
        raise expansion.errors[0]
    return expansion.applications


def _application(
    appset: ApplicationSet,
    run: Evaluation,
    render: TreeRender | None,
    template: Mapping[str, Any],
    params: ParamSet,
    path: str,
) -> dict[str, Any]:
    # Argo CD returns the template untouched, without its default finalizer, for an empty
    # parameter set.
    untouched = render is None or not params
    rendered = copy.deepcopy(dict(template)) if untouched else render(params)  # type: ignore[misc]
    metadata = rendered.get("metadata") or {}
    # Only the ObjectMeta fields a template may set; empty ones are omitted.
    app_metadata: dict[str, Any] = {k: metadata[k] for k in _METADATA_FIELDS if metadata.get(k)}
    app_metadata.setdefault("name", "")
    if appset.namespace:
        app_metadata["namespace"] = appset.namespace
    wants_finalizer = not untouched and not appset.preserve_resources_on_deletion
    if wants_finalizer and not app_metadata.get("finalizers"):
        app_metadata["finalizers"] = [FINALIZERS[appset.group]]
    app: dict[str, Any] = {
        "apiVersion": f"{appset.group}/v1alpha1",
        "kind": "Application",
        "metadata": app_metadata,
        "spec": rendered.get("spec") or {},
    }
    if appset.template_patch:
        app = _apply_template_patch(app, appset.template_patch, run, params)
    _check_name(app["metadata"].get("name"), path)
    return app


def _apply_template_patch(
    app: dict[str, Any], patch_template: str, run: Evaluation, params: ParamSet
) -> dict[str, Any]:
    text = run.render_string(patch_template, params, "spec.templatePatch")
    try:
        patch = load(text)
    except yaml.YAMLError as error:
        raise TemplateError(
            f"rendered templatePatch is not valid YAML: {describe_yaml_error(error)}",
            field="spec.templatePatch",
        ) from error
    if patch is None:
        return app
    if not isinstance(patch, Mapping):
        raise TemplateError("rendered templatePatch is not a mapping", field="spec.templatePatch")
    patched: dict[str, Any] = strategic_merge(app, patch)
    before = (app.get("spec") or {}).get("project")
    after = (
        (patched.get("spec") or {}).get("project")
        if isinstance(patched.get("spec"), Mapping)
        else before
    )
    if after != before:
        # Argo CD: the Project is a security boundary the template sets, not the patch.
        raise TemplateError(
            f"templatePatch cannot change spec.project (the template sets {before!r}, the patch "
            f"{after!r}); set the project in spec.template.spec.project",
            field="spec.templatePatch",
        )
    return patched


def _check_name(name: Any, path: str) -> None:
    if not isinstance(name, str) or not name:
        raise ApplicationNameError(
            f"{path}: spec.template.metadata.name rendered an empty Application name"
        )
    if len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        raise ApplicationNameError(
            f"{path}: spec.template.metadata.name rendered {name!r}, not a valid Kubernetes "
            "name (lowercase letters, digits, '-' and '.', starting and ending with a letter or "
            "digit, at most 253 characters)"
        )
