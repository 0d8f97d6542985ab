"""Per-cluster fault injection: latency, injected 500s, dropped connections and hangs.

Settable as attributes from tests (`cluster.faults.latency = 2.0`) and over HTTP through the
admin endpoint. "refuse" drops every connection that reaches the cluster and ends its open
watches; when the cluster has a port of its own (`SimServer(port_per_cluster=True)`) it also
stops listening there, so new connections are refused by the kernel as with a dead server.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from typing import Any

_FIELDS = ("latency", "error_rate", "refuse", "hang")


class Faults:
    """The faults of one cluster; setting `refuse` or `hang` also ends its open watches."""

    __slots__ = (
        "_error_rate",
        "_hang",
        "_latency",
        "_on_break",
        "_on_refuse",
        "_refuse",
        "_unhung",
    )

    def __init__(
        self,
        on_break: Callable[[], None] | None = None,
        on_refuse: Callable[[bool], None] | None = None,
    ) -> None:
        self._latency = 0.0
        self._error_rate = 0.0
        self._refuse = False
        self._hang = False
        self._on_break = on_break
        self._on_refuse = on_refuse
        self._unhung: asyncio.Event | None = None

    @property
    def latency(self) -> float:
        """Seconds added before every request of the cluster is handled."""
        return self._latency

    @latency.setter
    def latency(self, value: float) -> None:
        self._latency = max(0.0, float(value))

    @property
    def error_rate(self) -> float:
        """Probability (0..1) that a request is answered with 500 InternalError."""
        return self._error_rate

    @error_rate.setter
    def error_rate(self, value: float) -> None:
        self._error_rate = min(1.0, max(0.0, float(value)))

    @property
    def refuse(self) -> bool:
        """Drop every connection (and open watch) of the cluster without answering."""
        return self._refuse

    @refuse.setter
    def refuse(self, value: bool) -> None:
        changed = bool(value) != self._refuse
        self._refuse = bool(value)
        if self._refuse and self._on_break:
            self._on_break()
        if changed and self._on_refuse:
            self._on_refuse(self._refuse)

    @property
    def hang(self) -> bool:
        """Accept requests and never answer them (until `hang` is cleared: then drop them)."""
        return self._hang

    @hang.setter
    def hang(self, value: bool) -> None:
        self._hang = bool(value)
        if self._hang:
            if self._on_break:
                self._on_break()
        elif self._unhung is not None:
            self._unhung.set()
            self._unhung = None

    async def wait_unhung(self) -> None:
        if not self._hang:
            return
        if self._unhung is None:
            self._unhung = asyncio.Event()
        await self._unhung.wait()

    def release(self) -> None:
        """Wake hanging requests (server shutdown)."""
        if self._unhung is not None:
            self._unhung.set()
            self._unhung = None

    def should_fail(self) -> bool:
        return self._error_rate > 0 and random.random() < self._error_rate

    def clear(self) -> None:
        self.latency = 0.0
        self.error_rate = 0.0
        self.refuse = False
        self.hang = False

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}

    def update(self, values: Mapping[str, Any]) -> None:
        unknown = set(values) - set(_FIELDS)
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        for name in _FIELDS:
            if name in values:
                setattr(self, name, values[name])
