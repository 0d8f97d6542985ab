"""ApplicationSet status as Argo CD writes it: conditions and `status.resources`.

Why its own module: the status is what a user reads when Applications do not appear or do not
go away, so every message names the field, generator or Application and says what to do next.
`lastTransitionTime` only moves when a condition's status flips, so an unchanged ApplicationSet
gets no status write at all. Every message is redacted here (fleet.redaction), the one place
ApplicationSet conditions are made: a repoURL's password never reaches the status.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleet.api.group import FLEET, ApiFlavour
from fleet.redaction import status_text

ERROR_OCCURRED = "ErrorOccurred"
PARAMETERS_GENERATED = "ParametersGenerated"
RESOURCES_UP_TO_DATE = "ResourcesUpToDate"
CONDITION_ORDER = (ERROR_OCCURRED, PARAMETERS_GENERATED, RESOURCES_UP_TO_DATE)


@dataclass(frozen=True, slots=True)
class Condition:
    type: str
    status: bool
    reason: str
    message: str


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def conditions_body(
    wanted: Sequence[Condition], previous: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Conditions to write: `lastTransitionTime` carried over unless the status flipped."""
    before = {str(c.get("type")): c for c in previous if isinstance(c, Mapping)}
    out: list[dict[str, Any]] = []
    for condition in wanted:
        status = "True" if condition.status else "False"
        old = before.get(condition.type)
        since = (
            str(old["lastTransitionTime"])
            if old and old.get("status") == status and old.get("lastTransitionTime")
            else now()
        )
        out.append(
            {
                "type": condition.type,
                "status": status,
                "reason": condition.reason,
                "message": status_text(condition.message),
                "lastTransitionTime": since,
            }
        )
    return out


def resources_body(
    desired_names: Sequence[str],
    live: Mapping[str, Mapping[str, Any]],
    namespace: str,
    flavour: ApiFlavour = FLEET,
) -> list[dict[str, Any]]:
    """Argo CD's `status.resources`: each generated Application that exists, with its sync
    status and health as the Application reports them."""
    out: list[dict[str, Any]] = []
    for name in desired_names:
        app = live.get(name)
        if app is None:
            continue
        status = app.get("status") or {}
        entry: dict[str, Any] = {
            "group": flavour.group,
            "version": flavour.version,
            "kind": "Application",
            "namespace": namespace,
            "name": name,
        }
        sync = (status.get("sync") or {}).get("status")
        if sync:
            entry["status"] = sync
        health = (status.get("health") or {}).get("status")
        if health:
            entry["health"] = {"status": health}
        out.append(entry)
    return out


def same_status(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Equal apart from timestamps carried over (the write would change nothing)."""
    return _strip(current) == _strip(wanted)


def _strip(status: Mapping[str, Any]) -> dict[str, Any]:
    conditions = [
        {k: v for k, v in c.items() if k != "lastTransitionTime"}
        for c in status.get("conditions") or []
        if isinstance(c, Mapping)
    ]
    return {
        "conditions": conditions,
        "resources": list(status.get("resources") or []),
        "resourcesCount": status.get("resourcesCount"),
    }
