"""The controller's HTTP server and webhook receiver against hostile clients.

Each test runs the server the controller runs (`fleet.server.app`: probes, metrics and the
webhook on one port) on 127.0.0.1 and talks to it over real sockets.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import anyio
import pytest
import structlog
from anyio.abc import SocketStream

from fleet.git import RepoCache, WebhookSecrets
from fleet.server.app import HttpServer, make_app
from fleet.server.limits import HttpLimits
from fleet.server.metrics import Metrics

pytestmark = pytest.mark.anyio

SECRET = "gh-secret"
LIMITS = HttpLimits(
    max_connections=64,
    header_timeout=1.0,
    body_timeout=1.0,
    max_body=64 * 1024,
    max_webhooks=4,
    log_interval=60.0,
)
BOUND = 15.0
"""The longest any test waits for the server to act (a deadline of 1 s, generously)."""


@dataclass
class Served:
    server: HttpServer
    metrics: Metrics

    @property
    def port(self) -> int:
        return self.server.port

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    metrics = Metrics()
    async with RepoCache(tmp_path / "cache") as cache:
        app = make_app(cache, WebhookSecrets(github=SECRET), metrics, lambda: None, limits=LIMITS)
        server = HttpServer(app, limits=LIMITS, metrics=metrics)
        await server.start("127.0.0.1", 0)
        try:
            yield Served(server, metrics)
        finally:
            await server.stop()


def signed_push(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-GitHub-Event": "push", "X-Hub-Signature-256": f"sha256={digest}"}


async def closed_by_server(stream: SocketStream) -> bytes:
    """Everything the server sent until it closed the connection."""
    received = b""
    while True:
        try:
            received += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
            return received


async def test_a_client_dribbling_headers_is_disconnected_at_the_header_deadline(
    served: Served,
) -> None:
    async with await anyio.connect_tcp("127.0.0.1", served.port) as stream:
        await stream.send(b"GET /healthz HTTP/1.1\r\nHost: fleet\r\nX-Slow: ")
        with anyio.fail_after(BOUND):
            async with anyio.create_task_group() as tg:

                async def dribble() -> None:  # one byte of one header value at a time
                    try:
                        while True:
                            await stream.send(b"a")
                            await anyio.sleep(0.1)
                    except (anyio.BrokenResourceError, OSError):
                        pass

                tg.start_soon(dribble)
                assert await closed_by_server(stream) == b""
                tg.cancel_scope.cancel()
    assert served.sample("fleet_http_connections_dropped_total", reason="timeout") >= 1


async def test_an_idle_connection_that_never_sends_a_request_is_closed(served: Served) -> None:
    async with await anyio.connect_tcp("127.0.0.1", served.port) as stream:
        with anyio.fail_after(BOUND):
            assert await closed_by_server(stream) == b""


async def test_an_idle_keep_alive_connection_is_closed_after_its_response(
    served: Served,
) -> None:
    async with await anyio.connect_tcp("127.0.0.1", served.port) as stream:
        await stream.send(b"GET /healthz HTTP/1.1\r\nHost: fleet\r\n\r\n")
        with anyio.fail_after(BOUND):
            answer = await closed_by_server(stream)  # the response, then the close
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok\n")


async def test_a_client_dribbling_a_webhook_body_gets_408_at_the_body_deadline(
    served: Served,
) -> None:
    head = (
        b"POST /api/webhook HTTP/1.1\r\nHost: fleet\r\nContent-Length: 10000\r\n"
        b"X-GitHub-Event: push\r\nX-Hub-Signature-256: sha256=00\r\n\r\n"
    )
    async with await anyio.connect_tcp("127.0.0.1", served.port) as stream:
        await stream.send(head)
        with anyio.fail_after(BOUND):
            async with anyio.create_task_group() as tg:

                async def dribble() -> None:
                    try:
                        while True:
                            await stream.send(b"[")
                            await anyio.sleep(0.1)
                    except (anyio.BrokenResourceError, OSError):
                        pass

                tg.start_soon(dribble)
                answer = await closed_by_server(stream)
                tg.cancel_scope.cancel()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


async def test_a_connection_flood_is_capped_and_healthz_still_answers(served: Served) -> None:
    """2,000 half-sent requests: the server holds at most its cap, closing the oldest idle
    ones, and the kubelet's probe (a complete request at once) is answered."""
    flood: list[SocketStream] = []
    try:
        for _ in range(2000):
            try:
                stream = await anyio.connect_tcp("127.0.0.1", served.port)
                flood.append(stream)
                await stream.send(b"GET /healthz HTTP/1.1\r\nHost: fleet\r\n")
            except (OSError, anyio.BrokenResourceError):
                pass  # refused or closed by the server: what the cap is for
        async with aiohttp.ClientSession() as session:
            with anyio.fail_after(BOUND):
                async with session.get(f"http://127.0.0.1:{served.port}/healthz") as response:
                    assert response.status == 200
        assert served.server.open_connections <= LIMITS.max_connections
        assert served.sample("fleet_http_connections_dropped_total", reason="evicted") >= 1000
    finally:
        for stream in flood:
            await stream.aclose()


async def test_a_flood_of_bad_requests_logs_a_few_lines_not_one_per_request(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    body = b'{"ref": "refs/heads/main"}'
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:
        for _ in range(100):
            async with await anyio.connect_tcp("127.0.0.1", served.port) as stream:
                await stream.send(b"GET /healthz HTTP/1.1\r\nBad Header Line\r\n\r\n")
                with anyio.fail_after(BOUND):
                    assert b" 400 " in (await closed_by_server(stream)).split(b"\r\n")[0]
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                async with session.post(
                    f"http://127.0.0.1:{served.port}/api/webhook",
                    data=body,
                    headers=signed_push(body, secret="wrong"),
                ) as response:
                    assert response.status == 401
    lines = [e for e in events if e.get("log_level") not in ("debug",)]
    records = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert len(lines) + len(records) <= 4, (lines[:5], [r.getMessage() for r in records[:5]])


@pytest.mark.parametrize(
    "body",
    [b"[" * 30_000 + b"]" * 30_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000],
    ids=["array", "object"],
)
async def test_a_deeply_nested_signed_webhook_body_gets_400(served: Served, body: bytes) -> None:
    assert len(body) <= LIMITS.max_body  # small, correctly signed: only its shape is hostile
    async with aiohttp.ClientSession() as session:
        with anyio.fail_after(BOUND):
            async with session.post(
                f"http://127.0.0.1:{served.port}/api/webhook", data=body, headers=signed_push(body)
            ) as response:
                assert response.status == 400, await response.text()
                assert "nested deeper than" in (await response.json())["error"]


async def test_an_oversized_webhook_body_gets_413_announced_or_not(served: Served) -> None:
    body = json.dumps({"pad": "x" * (LIMITS.max_body + 1)}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    async with aiohttp.ClientSession() as session:
        with anyio.fail_after(BOUND):
            url = f"http://127.0.0.1:{served.port}/api/webhook"
            async with session.post(url, data=body, headers=signed_push(body)) as response:
                assert response.status == 413
            async with session.post(url, data=chunks(), headers=signed_push(body)) as response:
                assert response.status == 413
