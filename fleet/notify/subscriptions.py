"""Who wants which notification: subscription annotations on an Application, as Argo CD reads
them.

- `notifications.argoproj.io/subscribe.<trigger>.<service>: "<recipient>;<recipient>"`
- `notifications.argoproj.io/subscribe.<service>: ...`: every trigger of `defaultTriggers.<service>`
  or else `defaultTriggers` from the ConfigMap
- `notifications.argoproj.io/subscriptions` (and Argo CD's older `subscribe_yaml`): a YAML list of
  `{trigger: [..], destinations: [{service, recipients: [..]}]}`

An empty value is one subscription with an empty recipient (what a webhook service needs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from generators import yamlio

PREFIX = "notifications.argoproj.io/"
SUBSCRIBE = PREFIX + "subscribe."
YAML_KEYS = (PREFIX + "subscriptions", PREFIX + "subscribe_yaml")
NOTIFIED = "notified.notifications.argoproj.io"
MAX_DESTINATIONS = 200
"""Destinations of one Application (a bound on the work one object can cause)."""


@dataclass(frozen=True, slots=True, order=True)
class Destination:
    service: str
    recipient: str

    def __str__(self) -> str:
        return f"{self.service}:{self.recipient}"


def _recipients(value: str) -> list[str]:
    if value == "":
        return [""]
    return [r.strip() for r in value.split(";") if r.strip()]


def destinations(
    annotations: Mapping[str, Any],
    default_triggers: tuple[str, ...],
    service_defaults: Mapping[str, tuple[str, ...]],
) -> tuple[dict[str, list[Destination]], list[str]]:
    """Trigger -> its destinations (deduplicated, in a stable order), and problems found (each
    naming the annotation)."""
    found: dict[str, set[Destination]] = {}
    problems: list[str] = []

    def add(trigger: str, service: str, recipients: list[str]) -> None:
        triggers = [trigger] if trigger else list(service_defaults.get(service, default_triggers))
        for name in triggers:
            for recipient in recipients:
                found.setdefault(name, set()).add(Destination(service, recipient))

    for key, value in annotations.items():
        if not isinstance(value, str):
            continue
        if key.startswith(SUBSCRIBE):
            parts = key[len(SUBSCRIBE) :].split(".")
            trigger, service = (parts[0], parts[1]) if len(parts) >= 2 else ("", parts[0])
            add(trigger, service, _recipients(value))
        elif key in YAML_KEYS:
            try:
                items = yamlio.load(value)
            except yaml.YAMLError as error:
                problems.append(f"annotation {key}: {yamlio.describe_yaml_error(error)}")
                continue
            for index, item in enumerate(items if isinstance(items, list) else [items]):
                where = f"annotation {key}[{index}]"
                if not isinstance(item, dict):
                    problems.append(f"{where}: must be a map with trigger and destinations")
                    continue
                triggers = item.get("trigger") or []
                triggers = [triggers] if isinstance(triggers, str) else triggers
                for dest in item.get("destinations") or []:
                    if not isinstance(dest, dict) or not isinstance(dest.get("service"), str):
                        problems.append(f"{where}.destinations: each needs a service")
                        continue
                    recipients = dest.get("recipients") or [""]
                    names = [str(r) for r in recipients] if isinstance(recipients, list) else []
                    for trigger in triggers if isinstance(triggers, list) else []:
                        add(str(trigger), dest["service"], names)
    result = {t: sorted(d) for t, d in sorted(found.items())}
    total = sum(len(d) for d in result.values())
    if total > MAX_DESTINATIONS:
        problems.append(f"annotations: {total} destinations, over the limit of {MAX_DESTINATIONS}")
        return {}, problems
    return result, problems
