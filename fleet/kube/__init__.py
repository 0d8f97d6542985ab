"""The one thin layer between kubernetes_asyncio and the rest of fleet.

`client.build_api_client` makes a per-cluster ApiClient from explicit `Credentials`;
`calls.call`/`calls.request_json` bound every request and raise `errors.KubeError` subclasses.
"""

from fleet.kube.calls import DEFAULT_TIMEOUT, call, get_version, request_json, request_timeout
from fleet.kube.client import USER_AGENT, Credentials, build_api_client
from fleet.kube.errors import (
    BadRequest,
    CircuitOpen,
    ClusterNotRegistered,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    KubeError,
    NotFound,
    ServerError,
    TooManyRequests,
    Unauthorized,
    Unreachable,
    translate,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "BadRequest",
    "CircuitOpen",
    "ClusterNotRegistered",
    "Conflict",
    "Credentials",
    "Forbidden",
    "Gone",
    "Invalid",
    "KubeError",
    "NotFound",
    "ServerError",
    "TooManyRequests",
    "Unauthorized",
    "Unreachable",
    "build_api_client",
    "call",
    "get_version",
    "request_json",
    "request_timeout",
    "translate",
]
