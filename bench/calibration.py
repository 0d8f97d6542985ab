"""How fast this machine is right now, at the controller's kind of work.

Runs of the same benchmark on this machine have differed by a third between hours, with the
same requests sent and the simulator's apply ceiling unchanged (old code and new alike), and
the load average does not show it. These figures are the CPU cost now of the two things that
dominate the controller's profile: a TLS 1.3 handshake (client and server in memory, with the
simulator's P-256 certificates) and a turn of the asyncio event loop (a task yielding once).
When they differ between two runs, compare the runs' code with care. They do not explain
everything: within one hour they stayed within 5 % while the controller's CPU for the same
work ranged over 10 %.

`software()` names the rest of what "the same code" runs on: `make` resolves the dependencies
when it builds the virtualenv (there is no lock file), so runs on different days may run
different libraries (anyio 4.14 made a task spawn cost about twice the CPU of 4.13).
"""

from __future__ import annotations

import asyncio
import platform
import ssl
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from importlib import metadata
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fleet.sim.certs import Authority, cert_pem, key_pem

HANDSHAKES = 200
LOOP_TURNS = 20_000
HOT_PATH_DISTRIBUTIONS = (
    "aiohttp",
    "anyio",
    "orjson",
    "multidict",
    "yarl",
    "propcache",
    "kubernetes_asyncio",
    "prometheus-client",
)
"""The libraries every request and watch line of the controller passes through."""


def _contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    authority = Authority.create(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "calibration-ca")]),
        timedelta(days=1),
    )
    cert, key = authority.issue(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]),
        ExtendedKeyUsageOID.SERVER_AUTH,
        ["localhost"],
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
        cert_path.write_bytes(cert_pem(cert))
        key_path.write_bytes(key_pem(key))
        server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(
        cadata=authority.cert.public_bytes(serialization.Encoding.PEM).decode()
    )
    return client, server


def _handshake(client_context: ssl.SSLContext, server_context: ssl.SSLContext) -> None:
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_in, server_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_context.wrap_bio(to_client, to_server, server_hostname="localhost")
    server = server_context.wrap_bio(server_in, server_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):  # TLS 1.3 completes in two flights each way
        for name, side in (("client", client), ("server", server)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
            server_in.write(to_server.read())
            to_client.write(server_out.read())
        if all(done.values()):
            return
    raise RuntimeError("the calibration handshake did not complete")


def _loop_turns() -> None:
    async def turns() -> None:
        for _ in range(LOOP_TURNS):
            await asyncio.sleep(0)

    asyncio.run(turns())


def _best_cpu_us(work: Callable[[], None], times: int, each: int) -> float:
    """CPU microseconds per unit of `work()` (`each` units a call), best of three runs."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for _ in range(times):
            work()
        best = min(best, time.process_time() - started)
    return round(best / (times * each) * 1e6, 2)


def machine_speed() -> dict[str, float]:
    """CPU microseconds, now, per TLS handshake (both sides) and per event-loop turn."""
    client, server = _contexts()
    return {
        "tls_handshake_cpu_us": _best_cpu_us(lambda: _handshake(client, server), HANDSHAKES, 1),
        "event_loop_turn_cpu_us": _best_cpu_us(_loop_turns, 1, LOOP_TURNS),
    }


def software() -> dict[str, str]:
    """The Python, OpenSSL and hot-path library versions this run used."""
    versions = {"python": platform.python_version(), "openssl": ssl.OPENSSL_VERSION}
    for name in HOT_PATH_DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
