"""Build one kubernetes_asyncio ApiClient per cluster from explicit credentials.

Why not `load_kube_config`/`Configuration()` defaults: those are process-wide, write
certificates to temp files that live until exit, load the system CA store (~840 KiB per client)
and have no connection bound. Here the CA comes from memory, a client key touches disk only
inside a private directory for the instant `load_cert_chain` needs it, the aiohttp connector has
a connection limit, and every request carries `User-Agent: fleet/<version>`.
"""

from __future__ import annotations

import copy
import hashlib
import os
import ssl
import tempfile
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from kubernetes_asyncio import client
from kubernetes_asyncio.client import rest
from kubernetes_asyncio.client.exceptions import ApiException

from fleet import __version__, tlsbuffer
from fleet.kube import observe
from fleet.kube.adaptive import AdaptiveLimit, AdaptiveSettings

USER_AGENT = f"fleet/{__version__}"
DEFAULT_POOL_LIMIT = 16
DEFAULT_KEEPALIVE = 15.0
INITIAL_CONCURRENCY = 2
"""Requests in flight to one cluster before its adaptive limit has seen any answer. Every extra
slot is one more TLS connection opened in a burst (a handshake of about 1.5 ms of CPU and
60-90 KiB held while open); at 1,000 clusters a start of 8 cost 13,500 handshakes. The limit grows
by itself where requests wait and the cluster answers quickly (fleet.kube.adaptive)."""

TokenSource = Callable[[], Awaitable[str]]
"""Returns a current bearer token (an exec provider's cached one); called before each request."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """How to reach and authenticate to one API server. Secret fields never appear in repr."""

    server: str
    token: str | None = field(default=None, repr=False)
    client_cert_pem: bytes | None = field(default=None, repr=False)
    client_key_pem: bytes | None = field(default=None, repr=False)
    ca_pem: bytes | None = field(default=None, repr=False)
    insecure: bool = False
    tls_server_name: str | None = None
    token_source: TokenSource | None = field(default=None, repr=False, compare=False)

    def fingerprint(self) -> str:
        """A digest that changes when any credential changes; safe to log or compare."""
        digest = hashlib.sha256()
        for part in (
            self.server.encode(),
            self.token.encode() if self.token else b"",
            self.client_cert_pem or b"",
            self.client_key_pem or b"",
            self.ca_pem or b"",
            b"1" if self.insecure else b"0",
            (self.tls_server_name or "").encode(),
            b"exec" if self.token_source else b"",
        ):
            digest.update(len(part).to_bytes(8, "big") + part)
        return digest.hexdigest()[:16]


_CONTEXTS: weakref.WeakValueDictionary[str, ssl.SSLContext] = weakref.WeakValueDictionary()


def shared_ssl_context(credentials: Credentials) -> ssl.SSLContext:
    """`ssl_context(credentials)`, one per distinct TLS configuration (CA, client certificate
    and key, insecure) among the clients alive: clusters of one fleet often share a CA, and each
    context costs about 16 KiB. A context holds only what every client sharing it would hold
    (trust, its own client key); the server name is checked per connection."""
    digest = hashlib.sha256()
    for part in (
        credentials.ca_pem or b"",
        credentials.client_cert_pem or b"",
        credentials.client_key_pem or b"",
        b"1" if credentials.insecure else b"0",
    ):
        digest.update(len(part).to_bytes(8, "big") + part)
    key = digest.hexdigest()
    context = _CONTEXTS.get(key)
    if context is None:
        context = _CONTEXTS[key] = ssl_context(credentials)
    return context


def ssl_context(credentials: Credentials) -> ssl.SSLContext:
    """TLS context trusting only the cluster's CA (from memory) unless none is given.

    Verification is off only when the credentials say `insecure` explicitly.
    """
    if credentials.ca_pem:
        context = ssl.create_default_context(cadata=credentials.ca_pem.decode())
    else:
        context = ssl.create_default_context()
    if credentials.client_cert_pem and credentials.client_key_pem:
        _load_client_cert(context, credentials.client_cert_pem, credentials.client_key_pem)
    if credentials.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _load_client_cert(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """`load_cert_chain` only reads files: write them to a 0700 private directory, load, delete."""
    with tempfile.TemporaryDirectory(prefix="fleet-tls-") as tmp:
        cert_path, key_path = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
        for path, data in ((cert_path, cert), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        context.load_cert_chain(str(cert_path), str(key_path))


def _less(bound: aiohttp.ClientTimeout, spent: float) -> aiohttp.ClientTimeout:
    """`bound` with `spent` seconds already used of its total."""
    total = max(0.001, (bound.total or 0.0) - spent)
    connect = bound.sock_connect
    return aiohttp.ClientTimeout(
        total=total,
        sock_connect=None if connect is None else min(connect, total),
        sock_read=bound.sock_read,
        connect=bound.connect,
    )


class LimitedREST(rest.RESTClientObject):
    """Every request but a watch passes through the cluster's AdaptiveLimit (watches use the
    session directly: fleet.kube.watch), and is reported (fleet.kube.observe) when the client
    has a label."""

    limit: AdaptiveLimit
    label: str
    """The cluster its requests are reported under; "" reports nothing."""
    base: str
    """The client's host URL: what precedes the API path in every request's URL."""

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        """kubernetes_asyncio's generated APIs come through here."""

        async def send(bound: Any) -> Any:
            kwargs["_request_timeout"] = bound
            return await rest.RESTClientObject.request(self, *args, **kwargs)

        method = str(kwargs.get("method", args[0] if args else ""))
        url = str(kwargs.get("url", args[1] if len(args) > 1 else ""))
        return await self._limited(kwargs.get("_request_timeout"), send, method, url)

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        data: bytes | None,
        timeout: aiohttp.ClientTimeout,
    ) -> aiohttp.ClientResponse:
        """One request as it is (an encoded body, the query already in `url`) straight to the
        session, without kubernetes_asyncio's REST layer: a regular expression, `urlencode` and
        `json.dumps` on every request, 3 % of the controller's CPU at 1,000 clusters. The
        response is unread; non-2xx answers do not raise."""

        async def go(bound: aiohttp.ClientTimeout) -> aiohttp.ClientResponse:
            return await self.pool_manager.request(
                method,
                url,
                headers=headers,
                data=data,
                timeout=bound,
                server_hostname=self.server_hostname or None,
            )

        response: aiohttp.ClientResponse = await self._limited(timeout, go, method, url)
        return response

    async def _limited(
        self,
        bound: Any,
        send: Callable[[Any], Awaitable[Any]],
        method: str,
        url: str,
    ) -> Any:
        if isinstance(bound, aiohttp.ClientTimeout) and bound.total:
            # The wait for a slot counts against the request's total bound, as it did when
            # one cancel scope covered both.
            waited = await self.limit.acquire(timeout=bound.total)
            if waited:
                bound = _less(bound, waited)
        else:
            await self.limit.acquire()
        started = time.monotonic()
        try:
            response = await send(bound)
        except ApiException as error:
            self.limit.release(status=error.status, latency=time.monotonic() - started)
            self._report(method, url, started, str(error.status))
            raise
        except BaseException as error:
            self.limit.release(error=error)
            self._report(method, url, started, type(error).__name__)
            raise
        status = getattr(response, "status", None)
        self.limit.release(status=status, latency=time.monotonic() - started)
        self._report(method, url, started, str(status))
        return response

    def _report(self, method: str, url: str, started: float, outcome: str) -> None:
        """Never a watch: watches do not come through here (fleet.kube.watch reports them)."""
        if self.label:
            path = url[len(self.base) :] if url.startswith(self.base) else urlsplit(url).path
            observe.report(self.label, method, path, False, started, outcome)


class FleetApiClient(client.ApiClient):
    """An ApiClient whose REST session is ours: bounded connector, our TLS context.

    `ApiClient.__init__` would build a session with the system CA store and an unbounded-ish
    pool; this sets the same attributes without doing so (kubernetes_asyncio is pinned <37).
    """

    def __init__(
        self,
        configuration: client.Configuration,
        context: ssl.SSLContext,
        pool_limit: int,
        keepalive: float,
        label: str = "",
    ) -> None:
        self.configuration = configuration
        self.pool_threads = 1
        self._pool = None
        rest_client = LimitedREST.__new__(LimitedREST)
        vars(rest_client).update(
            limit=AdaptiveLimit(
                AdaptiveSettings(
                    initial=min(INITIAL_CONCURRENCY, pool_limit), maximum=max(1, pool_limit)
                )
            ),
            server_hostname=configuration.tls_server_name,
            proxy=None,
            proxy_headers=None,
            # No connection limit in the connector: requests are bounded by the AdaptiveLimit
            # (at most `pool_limit`), and each watch holds a connection for minutes; counted
            # against one shared limit, an Application with `pool_limit` watched kinds would
            # leave no connection for any request to its cluster.
            pool_manager=aiohttp.ClientSession(
                connector=observe.CountingConnector(
                    label, limit=0, ssl=context, keepalive_timeout=keepalive
                )
                if label
                else aiohttp.TCPConnector(limit=0, ssl=context, keepalive_timeout=keepalive),
                read_bufsize=2**21,
            ),
            label=label,
            base=str(configuration.host),
        )
        self.rest_client = rest_client
        self.label = label
        """The cluster name its requests and watches are reported under (fleet.kube.observe)."""
        self.heard_as = ""
        """Another cluster whose liveness this client's watch lines also prove: the controller's
        hub client proves `in-cluster`'s (same server, same credentials), so the hub as a
        destination is not probed while the hub's own watches deliver."""
        self.default_headers = {"User-Agent": USER_AGENT}
        vars(self).update(cookie=None)
        self.client_side_validation = False
        self._build = (context, pool_limit, keepalive)
        self.credentials: Credentials | None = None
        """What it was built from: the hub's own, reused for the in-cluster destination."""

    @property
    def limit(self) -> AdaptiveLimit:
        """The adaptive concurrency toward this server (for metrics and tests)."""
        rest_client = self.rest_client
        assert isinstance(rest_client, LimitedREST)
        return rest_client.limit

    def sibling(self, pool_limit: int = 4) -> FleetApiClient:
        """Another client to the same server with the same credentials and its own connection
        pool, for another event loop (build it inside that loop): clients are bound to the
        loop that made their session."""
        context, _, keepalive = self._build
        twin = FleetApiClient(copy.copy(self.configuration), context, pool_limit, keepalive)
        twin.credentials = self.credentials
        return twin


def build_api_client(
    credentials: Credentials,
    *,
    pool_limit: int = DEFAULT_POOL_LIMIT,
    keepalive: float = DEFAULT_KEEPALIVE,
    label: str = "",
) -> client.ApiClient:
    """An ApiClient for one cluster. Must be created inside a running event loop; close it with
    `await api.close()` (the manager does) or `async with`.

    `keepalive` is how long an idle connection stays open. Each open TLS connection costs about
    45 KiB in this process (most of it OpenSSL's state; the read buffer is shared:
    fleet.tlsbuffer), so across 1,000 mostly idle clusters a short keep-alive bounds memory.

    `label` (the cluster's name) turns on per-request observation (fleet.kube.observe).

    ValueError for credentials over plain http: a token would travel in clear text (callers
    with a better message for their user check first, e.g. the cluster registry)."""
    scheme = credentials.server.partition("://")[0].lower()
    if scheme != "https" and (
        credentials.token or credentials.token_source or credentials.client_cert_pem
    ):
        raise ValueError(
            f"server {credentials.server}: credentials are never sent over plain http; use https://"
        )
    tlsbuffer.install()
    config = client.Configuration()
    config.host = credentials.server.rstrip("/")
    config.verify_ssl = not credentials.insecure
    config.tls_server_name = credentials.tls_server_name
    config.connection_pool_maxsize = pool_limit
    if credentials.token:
        config.api_key = {"BearerToken": credentials.token}
        config.api_key_prefix = {"BearerToken": "Bearer"}
    if credentials.token_source is not None:
        source = credentials.token_source

        async def refresh(cfg: client.Configuration) -> None:
            cfg.api_key = {"BearerToken": await source()}
            cfg.api_key_prefix = {"BearerToken": "Bearer"}

        config.api_key = {"BearerToken": ""}
        config.refresh_api_key_hook = refresh
    api = FleetApiClient(config, shared_ssl_context(credentials), pool_limit, keepalive, label)
    api.credentials = credentials
    return api
