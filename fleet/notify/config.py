"""`argocd-notifications-cm` and `argocd-notifications-secret`, read as Argo CD reads them.

Keys: `service.slack`, `service.teams`, `service.webhook.<name>` (YAML options; `$key` in a
string value is replaced by that key of the Secret), `template.<name>` and `trigger.<name>`
(YAML, replacing the built-in of the same name: fleet.notify.catalog), `defaultTriggers`
(YAML list, for subscriptions that name no trigger), `defaultTriggers.<service>`, `context`
(YAML map given to templates as `.context`), `subscriptions` (YAML list of
`{recipients: [service:recipient], triggers, selector}`: every Application the label selector
matches is subscribed).

Untrusted input never raises: every key that cannot be used becomes a `problems` entry naming
the key (and, for a trigger, the condition), is left out, and the rest still works. Secret
values go only into `ServiceConfig.options`, which is never logged or printed.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from fleet.notify.catalog import BUILTIN_TEMPLATES, BUILTIN_TRIGGERS
from fleet.notify.expr import ExprError, Expression, compile_expression
from fleet.notify.selector import SelectorError, parse_label_selector
from fleet.notify.subscriptions import Destination
from generators import yamlio
from generators.selector import LabelSelector
from generators.templating.gotemplate import GoTemplateError, compile_template

CONFIGMAP = "argocd-notifications-cm"
SECRET = "argocd-notifications-secret"
SERVICE_KINDS = ("slack", "teams", "webhook")
MAX_VALUE = 256 * 1024
"""Characters of one ConfigMap value parsed (a ConfigMap holds at most 1 MiB)."""
DEFAULT_CONTEXT = {"argocdUrl": "https://localhost:4000"}

_SECRET_REF = re.compile(r"\$[A-Za-z0-9_.-]+")


class ConfigError(ValueError):
    """One ConfigMap key cannot be used; the message names the key."""


@dataclass(frozen=True, slots=True)
class Condition:
    when: Expression
    send: tuple[str, ...]
    once_per: Expression | None
    description: str


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    kind: str
    """slack, teams or webhook."""
    name: str
    """What subscriptions name: `slack`, `teams`, or the webhook's `<name>`."""
    options: Mapping[str, Any] = field(repr=False)
    """With secrets substituted: never log this."""

    @property
    def insecure(self) -> bool:
        return self.options.get("insecureSkipVerify") is True


@dataclass(frozen=True, slots=True)
class GlobalSubscription:
    """One entry of the ConfigMap's `subscriptions`: these recipients get these triggers (the
    default triggers when none are named) for every Application the selector matches."""

    destinations: tuple[Destination, ...]
    triggers: tuple[str, ...]
    selector: LabelSelector


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    services: Mapping[str, ServiceConfig] = field(default_factory=dict)
    templates: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    triggers: Mapping[str, tuple[Condition, ...]] = field(default_factory=dict)
    broken_triggers: Mapping[str, str] = field(default_factory=dict)
    """Trigger name -> why it cannot run (so a subscription to it is reported, not ignored)."""
    broken_templates: Mapping[str, str] = field(default_factory=dict)
    default_triggers: tuple[str, ...] = ()
    service_default_triggers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_CONTEXT))
    subscriptions: tuple[GlobalSubscription, ...] = ()
    problems: tuple[str, ...] = ()


def decode_secret(secret: Mapping[str, Any] | None) -> dict[str, str]:
    """A Secret's `data` (base64) and `stringData`, as text; undecodable keys are skipped."""
    values: dict[str, str] = {}
    if not isinstance(secret, Mapping):
        return values
    data = secret.get("data")
    for key, raw in data.items() if isinstance(data, Mapping) else ():
        try:
            values[str(key)] = base64.b64decode(str(raw), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
    plain = secret.get("stringData")
    for key, raw in plain.items() if isinstance(plain, Mapping) else ():
        if isinstance(raw, str):
            values[str(key)] = raw
    return values


def _substitute(value: Any, secrets: Mapping[str, str]) -> Any:
    """`$key` references in string values replaced by the Secret's values (unknown ones kept,
    as Argo CD does)."""
    if isinstance(value, str):
        return _SECRET_REF.sub(lambda m: secrets.get(m.group(0)[1:], m.group(0)), value)
    if isinstance(value, list):
        return [_substitute(item, secrets) for item in value]
    if isinstance(value, dict):
        return {k: _substitute(v, secrets) for k, v in value.items()}
    return value


def _load(key: str, text: Any) -> Any:
    if not isinstance(text, str):
        raise ConfigError(f"{key}: the value must be a string")
    if len(text) > MAX_VALUE:
        raise ConfigError(f"{key}: longer than {MAX_VALUE} characters")
    try:
        return yamlio.load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{key}: not valid YAML ({yamlio.describe_yaml_error(error)})") from None


def _service(key: str, text: Any, secrets: Mapping[str, str]) -> ServiceConfig:
    parts = key.split(".")
    kind = parts[1] if len(parts) > 1 else ""
    if kind not in SERVICE_KINDS:
        raise ConfigError(
            f"{key}: service type {kind!r} is not supported (fleet sends to slack, teams and "
            "webhook services)"
        )
    if kind == "webhook":
        if len(parts) != 3 or not parts[2]:
            raise ConfigError(f"{key}: a webhook service is named service.webhook.<name>")
        name = parts[2]
    elif len(parts) != 2:
        raise ConfigError(f"{key}: expected service.{kind}")
    else:
        name = kind
    options = _load(key, text) or {}
    if not isinstance(options, dict):
        raise ConfigError(f"{key}: must be a YAML map of options")
    options = _substitute(options, secrets)
    if "insecureSkipVerify" in options and not isinstance(options["insecureSkipVerify"], bool):
        raise ConfigError(f"{key}.insecureSkipVerify: must be true or false")
    return ServiceConfig(kind, name, options)


def _conditions(key: str, text: Any) -> tuple[Condition, ...]:
    items = _load(key, text)
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{key}: must be a YAML list of conditions ({{when, send, oncePer}})")
    conditions: list[Condition] = []
    for index, item in enumerate(items):
        where = f"{key}[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: must be a map with when and send")
        unknown = set(item) - {"when", "send", "oncePer", "description"}
        if unknown:
            raise ConfigError(f"{where}: unknown field {sorted(unknown)[0]!r}")
        when = item.get("when")
        if isinstance(when, bool):
            when = "true" if when else "false"
        send = item.get("send")
        if not isinstance(send, list) or not all(isinstance(s, str) for s in send):
            raise ConfigError(f"{where}.send: must be a list of template names")
        try:
            compiled = compile_expression(when if isinstance(when, str) else "")
        except ExprError as error:
            raise ConfigError(f"{where}.when: {error}") from None
        once_per: Expression | None = None
        if item.get("oncePer") not in (None, ""):
            try:
                once_per = compile_expression(str(item["oncePer"]))
            except ExprError as error:
                raise ConfigError(f"{where}.oncePer: {error}") from None
        conditions.append(
            Condition(compiled, tuple(send), once_per, str(item.get("description") or ""))
        )
    return tuple(conditions)


def _template_strings(value: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _template_strings(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _template_strings(v, f"{path}[{i}]")]
    return []


def _template(key: str, text: Any) -> dict[str, Any]:
    body = _load(key, text)
    if not isinstance(body, dict):
        raise ConfigError(f"{key}: must be a YAML map (message, slack, teams, webhook)")
    for path, source in _template_strings(body, key):
        try:
            compile_template(source, name=path, missingkey="default")
        except GoTemplateError as error:
            text = str(error)
            raise ConfigError(text if text.startswith(path) else f"{path}: {text}") from None
    return body


def _subscriptions(key: str, text: Any) -> tuple[GlobalSubscription, ...]:
    items = _load(key, text) or []
    if not isinstance(items, list):
        raise ConfigError(f"{key}: must be a YAML list of {{recipients, triggers, selector}}")
    found: list[GlobalSubscription] = []
    for index, item in enumerate(items):
        where = f"{key}[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: must be a map with recipients, triggers, selector")
        recipients = item.get("recipients") or []
        triggers = item.get("triggers") or []
        if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
            raise ConfigError(f"{where}.recipients: must be a list of service:recipient")
        if not isinstance(triggers, list) or not all(isinstance(t, str) for t in triggers):
            raise ConfigError(f"{where}.triggers: must be a list of trigger names")
        try:
            selector = parse_label_selector(str(item.get("selector") or ""))
        except SelectorError as error:
            raise ConfigError(f"{where}.selector: {error}") from None
        destinations = tuple(
            Destination(*(r.split(":", 1) if ":" in r else (r, ""))) for r in recipients
        )
        found.append(GlobalSubscription(destinations, tuple(triggers), selector))
    return tuple(found)


def _names(key: str, text: Any) -> tuple[str, ...]:
    names = _load(key, text)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{key}: must be a YAML list of trigger names")
    return tuple(names)


def parse_config(
    data: Mapping[str, Any] | None, secret: Mapping[str, Any] | None = None
) -> NotifyConfig:
    """The configuration from the ConfigMap's `data` and the Secret object (either may be
    missing: then only the built-in triggers and templates, and no services)."""
    secrets = decode_secret(secret)
    problems: list[str] = []
    services: dict[str, ServiceConfig] = {}
    templates: dict[str, Mapping[str, Any]] = {}
    broken_templates: dict[str, str] = {}
    triggers: dict[str, tuple[Condition, ...]] = {}
    broken: dict[str, str] = {}
    defaults: tuple[str, ...] = ()
    service_defaults: dict[str, tuple[str, ...]] = {}
    context: dict[str, Any] = dict(DEFAULT_CONTEXT)
    subscriptions: tuple[GlobalSubscription, ...] = ()
    entries = [(f"trigger.{n}", t) for n, t in BUILTIN_TRIGGERS.items()]
    entries += [(f"template.{n}", t) for n, t in BUILTIN_TEMPLATES.items()]
    entries += sorted((data or {}).items())
    for key, text in entries:
        try:
            if key.startswith("service."):
                service = _service(key, text, secrets)
                services[service.name] = service
            elif key.startswith("template."):
                name = key.removeprefix("template.")
                broken_templates.pop(name, None)
                templates[name] = _template(key, text)
            elif key.startswith("trigger."):
                name = key.removeprefix("trigger.")
                broken.pop(name, None)
                triggers[name] = _conditions(key, text)
            elif key == "defaultTriggers":
                defaults = _names(key, text)
            elif key.startswith("defaultTriggers."):
                service_defaults[key.removeprefix("defaultTriggers.")] = _names(key, text)
            elif key == "context":
                loaded = _load(key, text) or {}
                if not isinstance(loaded, dict):
                    raise ConfigError("context: must be a YAML map")
                context.update(loaded)
            elif key == "subscriptions":
                subscriptions = _subscriptions(key, text)
        except ConfigError as error:
            problems.append(str(error))
            if key.startswith("trigger."):
                name = key.removeprefix("trigger.")
                triggers.pop(name, None)
                broken[name] = str(error)
            elif key.startswith("template."):
                name = key.removeprefix("template.")
                templates.pop(name, None)
                broken_templates[name] = str(error)
    for name, conditions in triggers.items():
        for index, condition in enumerate(conditions):
            for template in condition.send:
                if template not in templates and template not in broken_templates:
                    problems.append(f"trigger.{name}[{index}].send: no template named {template!r}")
    return NotifyConfig(
        services=services,
        templates=templates,
        triggers=triggers,
        broken_triggers=broken,
        broken_templates=broken_templates,
        default_triggers=defaults,
        service_default_triggers=service_defaults,
        context=context,
        subscriptions=subscriptions,
        problems=tuple(problems),
    )
