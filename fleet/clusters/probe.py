"""One health probe of one cluster: `GET /version` (reachability, latency, version), then an
authorised read (`GET /api/v1/namespaces?limit=1`) so that a token without rights shows up
as Forbidden instead of Ready.

Why both: `/version` is readable by any authenticated user (and on some servers anonymously),
so alone it proves the network path and authentication only. The result maps every failure to
the condition reasons written into `Cluster.status` (Unauthorized, Forbidden, ConnectionRefused,
Timeout, TLSError, ServerError).

The manager asks for the authorised read on every probe of a cluster that is not Ready, and
every few minutes of one that is (ManagerSettings.access_check_interval).

Latency is that of `GET /version` on a reused or fresh connection (the probe's last request
closes it, see _CLOSE), so it includes the TLS handshake on most probes: an honest "time to
reach the cluster", higher than a warm request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import anyio
from kubernetes_asyncio import client

from fleet.kube import KubeError, Unreachable, get_version, request_json

_CLOSE = {"Connection": "close"}
"""The probe's last request closes its connection: an idle cluster then holds no TLS
connection (about 50 KiB each) between probes, so 1,000 mostly idle clusters
cost connections only for the probes in flight (bounded by the manager's probe limiter)."""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    reachable: bool
    ready: bool
    reason: str
    """CamelCase condition reason: Connected, Unauthorized, Forbidden, ConnectionRefused, ..."""
    message: str = ""
    server_version: str | None = None
    latency_ms: int | None = None
    error: KubeError | None = None


def failure(error: KubeError) -> ProbeResult:
    """The result for a failed probe: unreachable when no HTTP answer came back."""
    if isinstance(error, Unreachable):
        return ProbeResult(False, False, error.condition_reason, error.message, error=error)
    return ProbeResult(True, False, error.reason, error.message, error=error)


async def probe(
    api: client.ApiClient, *, timeout: float = 5.0, check_access: bool = True
) -> ProbeResult:
    """Probe once, bounded by `timeout` in total."""
    started = time.perf_counter()
    try:
        with anyio.fail_after(timeout):
            version = await get_version(
                api, timeout=timeout, headers=None if check_access else _CLOSE
            )
            latency_ms = round((time.perf_counter() - started) * 1000)
            if check_access:
                await request_json(
                    api,
                    "GET",
                    "/api/v1/namespaces",
                    query={"limit": "1"},
                    headers=_CLOSE,
                    timeout=timeout,
                )
    except TimeoutError:
        return failure(Unreachable("probe timed out", kind="timeout"))
    except KubeError as error:
        return failure(error)
    return ProbeResult(True, True, "Connected", "", version, latency_ms)
