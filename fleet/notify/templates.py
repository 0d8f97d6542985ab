"""Notification templates rendered with fleet's sandboxed Go template engine.

A template (`template.<name>`) is a YAML map: `message` plus per-service parts (`slack`,
`teams`, `webhook.<name>`); every string in it is a Go template, rendered with
`{"app": <Application>, "context": <context>, "serviceType": <service kind>,
"notificationType": <service kind>, "recipient": <recipient>}`. Rendering goes through
generators/templating/gotemplate (no file or environment access, Sprig without env), within a
time budget and its output and memory limits; it runs in a worker thread so a slow template
never holds the event loop. A failure is a `TemplateRenderError` naming the template and
field, reported by the caller, never raised into the controller.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from generators.errors import LimitExceededError
from generators.limits import Budget, ExpansionLimits, activated
from generators.templating.gotemplate import GoTemplateError, compile_template

RENDER_TIMEOUT = 5.0
"""Seconds one notification's templates may take together."""
RENDER_MEMORY = 16 << 20


class TemplateRenderError(ValueError):
    """A template could not be rendered; the message names `template.<name>.<field>`."""


def _render(value: Any, path: str, data: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        if "{{" not in value:
            return value
        try:
            return compile_template(value, name=path, missingkey="default").execute(data)
        except (GoTemplateError, LimitExceededError) as error:
            text = str(error)
            text = text if text.startswith(path) else f"{path}: {text}"
            raise TemplateRenderError(text) from None
    if isinstance(value, dict):
        return {k: _render(v, f"{path}.{k}", data) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, f"{path}[{i}]", data) for i, v in enumerate(value)]
    return value


def _merge(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def render_notification(
    templates: Mapping[str, Mapping[str, Any]],
    names: Sequence[str],
    data: Mapping[str, Any],
) -> dict[str, Any]:
    """The templates `names`, rendered with `data` and merged in order (later fields win), as
    Argo CD builds one notification from a condition's `send` list. Blocking: call it from a
    worker thread."""
    out: dict[str, Any] = {}
    budget = Budget(ExpansionLimits(timeout=RENDER_TIMEOUT, template_memory_bytes=RENDER_MEMORY))
    plain = copy.deepcopy(dict(data))
    with activated(budget):
        for name in names:
            body = templates.get(name)
            if body is None:
                raise TemplateRenderError(f"template.{name}: no such template")
            _merge(out, _render(body, f"template.{name}", plain))
    return out
