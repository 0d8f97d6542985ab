"""Bounded calls: every request has a per-request and a whole-operation timeout, and every
failure comes out as a typed `fleet.kube.errors.KubeError`.

Why: kubernetes_asyncio has no default timeout (a half-open connection hangs forever) and the
dynamic client swallows HTTP errors. Everything in fleet that talks to a cluster goes through
`call` or `request_json`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp
import anyio
from kubernetes_asyncio import client

from fleet.kube import jsonbody
from fleet.kube.client import LimitedREST
from fleet.kube.errors import KubeError, ServerError, from_status, translate

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0


def request_timeout(seconds: float) -> aiohttp.ClientTimeout:
    """The per-request timeout to pass as `_request_timeout` to every library call."""
    return aiohttp.ClientTimeout(total=seconds, sock_connect=min(seconds, 5.0))


async def call(
    operation: Callable[[], Awaitable[T]], *, timeout: float | None = DEFAULT_TIMEOUT
) -> T:
    """Run one library call with a deadline of `timeout` seconds (TimeoutError), mapping
    failures to KubeError.

    The callable must itself pass `_request_timeout`; this outer bound also covers token
    refresh hooks and connection setup. `timeout=None`: no outer bound (the callable's own
    bounds cover everything it does).

    Why a bare cancel scope, not `anyio.fail_after`: that is two generator-based context
    managers (fail_after, fail_at) held for as long as the call waits, and every open watch
    waits here for its next line: about 3 KiB each, 6 MiB at 1,000 clusters.
    """
    try:
        if timeout is None:
            return await operation()
        with anyio.CancelScope(deadline=anyio.current_time() + timeout):
            return await operation()
        raise TimeoutError  # only the deadline cancels this scope: no one else holds it
    except Exception as exc:
        mapped = translate(exc)
        if mapped is None:
            raise
        raise mapped from None


def check_result(result: Any) -> Any:
    """Raise for a dynamic-client `ResourceInstance` that is really an error (field notes)."""
    code = getattr(result, "code", None)
    if isinstance(code, int) and code >= 400:
        to_dict = getattr(result, "to_dict", None)
        body = to_dict() if callable(to_dict) else None
        raise from_status(code, body)
    return result


async def request_json(
    api: client.ApiClient,
    method: str,
    path: str,
    *,
    body: Any = None,
    query: Mapping[str, str] | None = None,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Any:
    """A raw JSON request through the client's session and auth (e.g. `GET /version`).

    Non-2xx answers raise the typed error with the Status message only.
    """

    async def go() -> Any:
        auth = await api.configuration.auth_settings()
        sent = dict(api.default_headers)
        sent.update(headers or {})
        sent["Accept"] = "application/json"
        sent["Content-Type"] = content_type
        token = auth.get("BearerToken", {}).get("value")
        if token:
            sent["Authorization"] = token
        url = str(api.configuration.host) + path
        rest_client = api.rest_client
        if isinstance(rest_client, LimitedREST):
            response = await rest_client.send(
                method,
                url + "?" + urlencode(query) if query else url,
                headers=sent,
                data=None if body is None else jsonbody.dumps(body),
                timeout=request_timeout(timeout),
            )
        else:  # a plain kubernetes_asyncio ApiClient (tests, tools)
            response = await rest_client.request(
                method,
                url,
                query_params=dict(query or {}),
                headers=sent,
                body=body,
                _preload_content=False,
                _request_timeout=request_timeout(timeout),
            )
        async with response:
            data = await response.read()
            if response.status >= 400:
                raise from_status(response.status, data, response.headers)
        try:
            return jsonbody.loads(data) if data else None
        except RecursionError:  # an object nested ~1,000 deep (the API server allows 10,000)
            raise ServerError(
                "the response is nested too deeply to read", status=response.status
            ) from None
        except ValueError:
            raise ServerError("the response is not JSON", status=response.status) from None

    # A token source may run a plugin: bound it all. Otherwise aiohttp's total timeout bounds
    # connecting, sending and reading, and the client's slot wait has its own
    # (fleet.kube.client): no cancel scope per request, which cost more CPU than the request
    # itself at 1,000 clusters.
    hook = getattr(api.configuration, "refresh_api_key_hook", None)
    return await call(go, timeout=timeout if hook is not None else None)


async def get_version(
    api: client.ApiClient,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    headers: Mapping[str, str] | None = None,
) -> str:
    """The server's `gitVersion` (GET /version)."""
    data = await request_json(api, "GET", "/version", timeout=timeout, headers=headers)
    version = data.get("gitVersion") if isinstance(data, dict) else None
    if not isinstance(version, str):
        raise KubeError("no gitVersion in /version")
    return version
