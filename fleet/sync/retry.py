"""Argo CD's `syncPolicy.retry`: limit and exponential backoff with its defaults.

`limit` counts retries after the first attempt (Argo CD: a negative limit retries forever; 0 or
absent: no retry). Backoff before retry n (1-based) is `duration * factor**(n-1)`, capped at
`maxDuration`. Durations accept Go-style strings ("5s", "3m", "1m30s", "500ms") or seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_UNIT = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,  # micro sign, as Go accepts
    "\u03bcs": 1e-6,  # Greek mu, as Go accepts
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DIGITS = frozenset("0123456789")
MAX_DURATION_TEXT = 64
"""Longer strings are not durations (Go's longest useful one is a few dozen characters); the
bound also keeps a hostile spec's 2 MB "duration" out of every message that quotes it."""


def parse_duration(raw: Any, default: float) -> float:
    """Seconds from Go's duration syntax (`time.ParseDuration`: "1h30m", "500ms", "-5s") or a
    plain number of seconds, as Argo CD reads `retry.backoff`. One pass over the text: a
    backtracking pattern here took seconds on a long run of digits."""
    if raw is None or raw == "":
        return default
    if isinstance(raw, int | float):
        return float(raw)
    text = str(raw).strip()
    if len(text) > MAX_DURATION_TEXT:
        raise ValueError(f"invalid duration: longer than {MAX_DURATION_TEXT} characters")
    if _number(text):
        return float(text)
    sign, body = (-1.0, text[1:]) if text[:1] == "-" else (1.0, text.removeprefix("+"))
    if body == "0":
        return 0.0
    total, i = 0.0, 0
    while i < len(body):
        j = i
        while j < len(body) and (body[j] in _DIGITS or body[j] == "."):
            j += 1
        k = j
        while k < len(body) and body[k] not in _DIGITS and body[k] != ".":
            k += 1
        number, unit = body[i:j], body[j:k]
        if not _number(number) or unit not in _UNIT:
            raise ValueError(f"invalid duration: {text!r}")
        total += float(number) * _UNIT[unit]
        i = k
    if not body:
        raise ValueError(f"invalid duration: {text!r}")
    return sign * total


def _number(text: str) -> bool:
    """Digits with at most one dot and at least one digit ("5", "1.5", ".5", "5.")."""
    whole, _, fraction = text.partition(".")
    digits = whole + fraction
    return bool(digits) and all(c in _DIGITS for c in digits)


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
