"""Kubernetes `Status` error bodies, raised as exceptions from anywhere in the simulator.

Clients (client-go, kubernetes_asyncio, the official client) decode the `Status` body to build
their exceptions, and the contract suite compares these bodies with a real kube-apiserver, so
every failure goes through `ApiError` with the same reason/message shapes the real server uses.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    504: "Timeout",
}


class ApiError(Exception):
    """An error answered as a `Status` object with the given HTTP code."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: JSON | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason if reason is not None else _REASONS.get(code, "Unknown")
        self.details = details

    def status(self) -> JSON:
        body: JSON = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def qualified(resource: str, group: str) -> str:
    """`deployments.apps`, or `configmaps` for the core group, as the real server prints it."""
    return f"{resource}.{group}" if group else resource


def _details(resource: str, group: str, name: str) -> JSON:
    details: JSON = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = resource
    return details


def not_found(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        404,
        f'{qualified(resource, group)} "{name}" not found',
        details=_details(resource, group, name),
    )


def resource_not_found() -> ApiError:
    return ApiError(404, "the server could not find the requested resource", details={})


def already_exists(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        f'{qualified(resource, group)} "{name}" already exists',
        reason="AlreadyExists",
        details=_details(resource, group, name),
    )


def conflict(resource: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}',
        details=_details(resource, group, name),
    )


STALE = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 Invalid; each cause is (field, reason, message), e.g. a FieldValueRequired one."""
    text = ", ".join(f"{field}: {msg}" for field, _, msg in causes)
    qualified_kind = f"{kind}.{group}" if group else kind
    details: JSON = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = [
        {"reason": reason, "message": msg, "field": field} for field, reason, msg in causes
    ]
    return ApiError(422, f'{qualified_kind} "{name}" is invalid: {text}', details=details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def expired(message: str) -> ApiError:
    return ApiError(410, message, reason="Expired")


def internal(message: str) -> ApiError:
    return ApiError(
        500,
        f"Internal error occurred: {message}",
        details={"causes": [{"message": message}]},
    )
