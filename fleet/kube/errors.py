"""fleet's typed Kubernetes errors, and the one mapping from library/HTTP failures to them.

Why: kubernetes_asyncio raises `ApiException` for typed calls, returns error bodies silently from
the dynamic client, and lets aiohttp/OS/timeout errors through raw. Callers must be able to
branch on *what happened* (retry later, give up, refresh credentials) without parsing strings,
and nothing they log may carry a response body (a Secret read that fails half-way, an echoed
request) that could hold a credential. Only the `Status.message`, truncated, is kept.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException

_MAX_MESSAGE = 300


class KubeError(Exception):
    """Any failure talking to a Kubernetes API server. `status` is the HTTP code (0 if none)."""

    status: int = 0
    reason: str = "Unknown"

    def __init__(self, message: str = "", *, status: int | None = None) -> None:
        super().__init__(message or self.reason)
        self.message = message or self.reason
        if status is not None:
            self.status = status


class NotFound(KubeError):
    status, reason = 404, "NotFound"


class Conflict(KubeError):
    status, reason = 409, "Conflict"


class Forbidden(KubeError):
    status, reason = 403, "Forbidden"


class Unauthorized(KubeError):
    status, reason = 401, "Unauthorized"


class Gone(KubeError):
    status, reason = 410, "Expired"


class Invalid(KubeError):
    status, reason = 422, "Invalid"


class BadRequest(KubeError):
    status, reason = 400, "BadRequest"


class TooManyRequests(KubeError):
    status, reason = 429, "TooManyRequests"

    def __init__(
        self, message: str = "", *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ServerError(KubeError):
    status, reason = 500, "ServerError"


class Unreachable(KubeError):
    """No HTTP answer at all. `kind` is "timeout", "connection" (refused, reset, DNS) or "tls"."""

    reason = "Unreachable"

    def __init__(self, message: str = "", *, kind: str = "connection") -> None:
        super().__init__(message)
        self.kind = kind

    @property
    def condition_reason(self) -> str:
        """The reason written to a Cluster's Reachable condition."""
        return {"timeout": "Timeout", "tls": "TLSError"}.get(self.kind, "ConnectionRefused")


class CircuitOpen(KubeError):
    """fleet itself refuses work: the cluster failed too often recently (see clusters.breaker)."""

    reason = "CircuitOpen"


class ClusterNotRegistered(KubeError):
    reason = "ClusterNotRegistered"


_BY_STATUS: dict[int, type[KubeError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
}


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def status_message(body: Any) -> str:
    """The `message` of a `Status` body, and nothing else of it (a body may hold secrets)."""
    data = body
    if isinstance(body, bytes | str):
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return ""
    if isinstance(data, dict) and data.get("kind") == "Status":
        message = data.get("message")
        return _clip(message) if isinstance(message, str) else ""
    return ""


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("Retry-After") if headers is not None else None
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def from_status(status: int, body: Any = None, headers: Any = None) -> KubeError:
    """The typed error for an HTTP status code; the message comes from a Status body only."""
    message = status_message(body)
    if status == 429:
        return TooManyRequests(message, status=status, retry_after=_retry_after(headers))
    cls = _BY_STATUS.get(status)
    if cls is not None:
        return cls(message, status=status)
    if status >= 500:
        return ServerError(message or f"HTTP {status}", status=status)
    return KubeError(message or f"HTTP {status}", status=status)


def translate(exc: BaseException) -> KubeError | None:
    """Map a library, network or timeout exception to a KubeError; None if it is not one.

    The original exception is never embedded in the message: aiohttp and ApiException reprs can
    include request headers (the Authorization header) or bodies.
    """
    if isinstance(exc, KubeError):
        return exc
    if isinstance(exc, ApiException):
        if exc.status in (0, None):
            return Unreachable("request failed before an HTTP answer", kind="connection")
        return from_status(int(exc.status), exc.body, exc.headers)
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return Unreachable("timed out", kind="timeout")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | ssl.SSLError):
        return Unreachable("TLS verification failed", kind="tls")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Unreachable(f"cannot connect to {exc.host}:{exc.port}", kind="connection")
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return Unreachable("connection dropped", kind="connection")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return Unreachable("connection dropped mid-response", kind="connection")
    if isinstance(exc, aiohttp.ClientResponseError):
        return from_status(exc.status, None, exc.headers)
    if isinstance(exc, ConnectionError | OSError):
        return Unreachable(type(exc).__name__, kind="connection")
    if (isinstance(exc, RuntimeError) and str(exc) == "Session is closed") or (
        isinstance(exc, aiohttp.ClientConnectionError) and str(exc) == "Connector is closed."
    ):
        # aiohttp, for a request on a client closed meanwhile (its credentials rotated, or its
        # cluster's shard moved away): no answer from this client, ever.
        return Unreachable("the cluster's client was closed", kind="connection")
    if isinstance(exc, aiohttp.ClientConnectionError):
        return Unreachable(str(exc) or type(exc).__name__, kind="connection")
    return None
