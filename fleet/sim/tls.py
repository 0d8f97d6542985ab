"""A throwaway CA and a serving certificate for 127.0.0.1/localhost, made at start.

EC P-256 keys make generation take milliseconds; it still runs in a worker thread because key
generation and signing are CPU work that must not stall the event loop.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography.x509.oid import ExtendedKeyUsageOID

from fleet.sim.certs import Authority, cert_pem, key_pem, name


@dataclass(frozen=True, slots=True)
class TLSMaterial:
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes


def generate(hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")) -> TLSMaterial:
    authority = Authority.create(name("fleet-sim-ca", "fleet-sim"), timedelta(days=365))
    cert, key = authority.issue(
        name("fleet-sim-apiserver", "fleet-sim"), ExtendedKeyUsageOID.SERVER_AUTH, hosts
    )
    return TLSMaterial(
        ca_pem=cert_pem(authority.cert), cert_pem=cert_pem(cert), key_pem=key_pem(key)
    )


def write_files(material: TLSMaterial, directory: Path) -> tuple[Path, Path, Path]:
    """Write ca.crt, tls.crt and tls.key (ssl wants files); the key is readable only by us."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, cert, key = directory / "ca.crt", directory / "tls.crt", directory / "tls.key"
    ca.write_bytes(material.ca_pem)
    cert.write_bytes(material.cert_pem)
    key.touch(mode=0o600)
    key.write_bytes(material.key_pem)
    return ca, cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context
