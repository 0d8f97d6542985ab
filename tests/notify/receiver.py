"""A real HTTP receiver on loopback standing in for Slack's API, a Teams connector and a
generic webhook: it records every request and answers as a test scripts it."""

from __future__ import annotations

import json
import ssl
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
from aiohttp import web
from cryptography.x509.oid import ExtendedKeyUsageOID

from fleet.sim.certs import Authority, cert_pem, key_pem, name


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    """Answers to give, in order, before answering 200 (e.g. [500] fails the first request)."""
    answer: bytes = b'{"ok": true}'
    hold: bool = False
    """Keep every request open until `release` is set (a hanging receiver)."""
    release: anyio.Event = field(default_factory=anyio.Event)
    arrived: anyio.Event = field(default_factory=anyio.Event)
    holding: int = 0

    def on(self, path_part: str) -> list[Received]:
        return [r for r in self.requests if path_part in r.path]

    async def wait_for(self, count: int, path_part: str = "", timeout: float = 60.0) -> None:
        """Until `count` requests (whose path holds `path_part`) arrived; a hang guard."""
        with anyio.fail_after(timeout):
            while len(self.on(path_part)) < count:
                event = self.arrived
                await event.wait()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(Received(request.method, request.path_qs, dict(request.headers), body))
        arrived, self.arrived = self.arrived, anyio.Event()
        arrived.set()
        if self.hold:
            self.holding += 1
            try:
                await self.release.wait()
            finally:
                self.holding -= 1
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, body=self.answer, content_type="application/json")


def _self_signed_context() -> ssl.SSLContext:
    """A server context with a certificate from a throwaway CA no client trusts."""
    authority = Authority.create(name("notify-test-ca"), timedelta(days=1))
    cert, key = authority.issue(name("127.0.0.1"), ExtendedKeyUsageOID.SERVER_AUTH, ["127.0.0.1"])
    with tempfile.TemporaryDirectory() as folder:
        cert_file, key_file = Path(folder, "tls.crt"), Path(folder, "tls.key")
        cert_file.write_bytes(cert_pem(cert))
        key_file.write_bytes(key_pem(key))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
    return context


@asynccontextmanager
async def receiver(*, tls: bool = False) -> AsyncIterator[Receiver]:
    """A receiver on loopback; `tls`: HTTPS with a certificate nobody trusts."""
    made = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", made.handle)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=_self_signed_context() if tls else None)
    await site.start()
    port = runner.addresses[0][1]
    made.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    try:
        yield made
    finally:
        made.release.set()
        await runner.cleanup()
