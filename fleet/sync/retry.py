"""Argo CD's `syncPolicy.retry`: limit and exponential backoff with its defaults.

`limit` counts retries after the first attempt (Argo CD: a negative limit retries forever; 0 or
absent: no retry). Backoff before retry n (1-based) is `duration * factor**(n-1)`, capped at
`maxDuration`. Durations accept Go-style strings ("5s", "3m", "1m30s", "500ms") or seconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(raw: Any, default: float) -> float:
    if raw is None or raw == "":
        return default
    if isinstance(raw, int | float):
        return float(raw)
    text = str(raw).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"invalid duration: {raw!r}")
    return sum(float(n) * _UNIT[u] for n, u in parts)


@dataclass(frozen=True)
class RetryPolicy:
    limit: int = 0
    duration: float = 5.0
    factor: float = 2.0
    max_duration: float = 180.0

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> RetryPolicy:
        if not raw:
            return cls()
        backoff = raw.get("backoff") or {}
        return cls(
            limit=int(raw.get("limit") or 0),
            duration=parse_duration(backoff.get("duration"), 5.0),
            factor=float(backoff.get("factor") or 2),
            max_duration=parse_duration(backoff.get("maxDuration"), 180.0),
        )

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        return min(self.max_duration, self.duration * self.factor ** max(0, retry - 1))

    def allows(self, retry: int) -> bool:
        return self.limit < 0 or retry <= self.limit
