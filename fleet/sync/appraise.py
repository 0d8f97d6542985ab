"""Object and Application health for the engine, through `fleet.sync.health` (Argo CD's rules).

A thin adapter: a missing object is `Missing`, a kind without health rules is None (it never
holds a wave back), and an Application with no health-bearing objects is Healthy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fleet.sync import health


@dataclass(frozen=True)
class Assessed:
    status: str
    message: str = ""


def assess(obj: dict[str, Any] | None) -> Assessed | None:
    """The object's health; None for kinds without health (counted as Healthy)."""
    if obj is None:
        return Assessed("Missing")
    found = health.assess(obj)
    if found is None:
        return None
    return Assessed(str(found.status), str(found.message or ""))


def worst(statuses: Iterable[str]) -> str:
    items = list(statuses)
    return health.worst(items) if items else "Healthy"
