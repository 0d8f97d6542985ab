"""TLS connections read through one buffer per thread (fleet.tlsbuffer): every byte still
arrives at the connection it was sent to, and no connection keeps a read buffer of its own."""

from __future__ import annotations

import asyncio
import os
import ssl
import threading
from pathlib import Path

import pytest

from fleet import tlsbuffer
from fleet.sim import tls

CONNECTIONS = 12
PAYLOAD = 300 * 1024  # many reads of READ_CHUNK each, interleaved between connections
Contexts = tuple[ssl.SSLContext, ssl.SSLContext]
"""(server, client)"""


@pytest.fixture(scope="module")
def contexts(tmp_path_factory: pytest.TempPathFactory) -> Contexts:
    material = tls.generate()
    _, cert, key = tls.write_files(material, Path(tmp_path_factory.mktemp("pki")))
    client = ssl.create_default_context(cadata=material.ca_pem.decode())
    return tls.server_context(cert, key), client


async def _exchange(contexts: Contexts) -> list[asyncio.Protocol]:
    """Each client sends its own random payload, the server echoes it back; all at once."""
    server_context, client_context = contexts

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readexactly(PAYLOAD))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]

    async def one() -> asyncio.Protocol:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context, server_hostname="127.0.0.1"
        )
        sent = os.urandom(PAYLOAD)
        writer.write(sent)
        assert await reader.readexactly(PAYLOAD) == sent
        protocol = writer.transport._ssl_protocol  # type: ignore[attr-defined]
        writer.close()
        return protocol  # type: ignore[no-any-return]

    async with server:
        return list(await asyncio.gather(*(one() for _ in range(CONNECTIONS))))


def test_interleaved_connections_each_receive_exactly_their_own_bytes(contexts: Contexts) -> None:
    tlsbuffer.install()
    asyncio.run(_exchange(contexts))


def test_no_connection_keeps_a_read_buffer_of_its_own(contexts: Contexts) -> None:
    tlsbuffer.install()
    protocols = asyncio.run(_exchange(contexts))
    assert [len(p._ssl_buffer) for p in protocols] == [0] * CONNECTIONS  # type: ignore[attr-defined]


def test_event_loops_in_two_threads_read_at_once_without_mixing_bytes(contexts: Contexts) -> None:
    tlsbuffer.install()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(3):
                asyncio.run(_exchange(contexts))
        except BaseException as error:  # reported by the main thread below
            failures.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
