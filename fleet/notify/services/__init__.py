"""Notification services: each turns a rendered notification into one HTTP request.

One module a service (slack.py, teams.py, webhook.py), all sent by fleet.notify.http. A
request carries its credentials in headers built here from the service's options (secrets
already substituted), never in anything logged: `Request.describe()` is what logs and errors
may show (the method and the URL's origin).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fleet.notify.config import ServiceConfig


class DeliveryError(Exception):
    """A notification was not delivered. `retryable`: worth another attempt (a timeout, a
    connection error, 429, 5xx); otherwise the receiver refused it for good."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class ServiceConfigError(DeliveryError):
    """The service's options or the rendered notification cannot make a request (names the
    field); never retried."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    url: str = field(repr=False)
    headers: Mapping[str, str] = field(repr=False, default_factory=dict)
    body: bytes = field(repr=False, default=b"")
    insecure: bool = False
    check: Callable[[int, bytes], None] | None = field(default=None, repr=False)
    """Looks at a 2xx answer's body (Slack answers 200 with ok=false)."""

    def describe(self) -> str:
        """Method and origin only: Slack incoming-webhook and Teams connector URLs carry
        their secret in the path, so no path, query or userinfo is ever shown."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return f"{self.method} {urlunsplit((parts.scheme, host, '', '', ''))}"


def json_field(notification: Mapping[str, Any], service: str, name: str) -> Any:
    """A rendered field holding JSON text (Slack attachments, Teams facts...), parsed; None when
    absent; ServiceConfigError naming the field when it is not JSON."""
    part = notification.get(service)
    raw = part.get(name) if isinstance(part, Mapping) else None
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError as error:
        message = f"{service}.{name}: the rendered text is not JSON ({error})"
        raise ServiceConfigError(message) from None


def option(service: ServiceConfig, name: str, default: str = "") -> str:
    value = service.options.get(name, default)
    if not isinstance(value, str):
        raise ServiceConfigError(f"service.{service.kind} {service.name}: {name} must be a string")
    return value


def build_request(
    service: ServiceConfig, notification: Mapping[str, Any], recipient: str
) -> Request:
    """The HTTP request that delivers `notification` to `recipient` through `service`."""
    from fleet.notify.services import slack, teams, webhook

    builders = {"slack": slack.build, "teams": teams.build, "webhook": webhook.build}
    return builders[service.kind](service, notification, recipient)
