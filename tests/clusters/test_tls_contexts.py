"""TLS contexts are shared by clients with the same trust and client identity (about 16 KiB
each: 1,000 clusters under one CA need one, not 1,000), and never across different ones."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from fleet.kube import Credentials
from fleet.kube.client import shared_ssl_context
from fleet.sim.certs import Authority, cert_pem, key_pem, name


@pytest.fixture(scope="module")
def authorities() -> tuple[Authority, Authority]:
    return (
        Authority.create(name("ca-one"), timedelta(days=1)),
        Authority.create(name("ca-two"), timedelta(days=1)),
    )


def creds(ca: Authority, server: str) -> Credentials:
    return Credentials(server=server, token="t", ca_pem=cert_pem(ca.cert))


def test_clusters_under_one_ca_share_one_tls_context(
    authorities: tuple[Authority, Authority],
) -> None:
    one, _ = authorities
    first = shared_ssl_context(creds(one, "https://a.example:6443"))
    second = shared_ssl_context(creds(one, "https://b.example:6443"))
    assert first is second


def test_another_ca_a_client_certificate_or_insecure_get_their_own_context(
    authorities: tuple[Authority, Authority],
) -> None:
    one, two = authorities
    cert, key = one.issue(name("fleet"), ExtendedKeyUsageOID.CLIENT_AUTH)
    base = shared_ssl_context(creds(one, "https://a.example"))
    others = [
        shared_ssl_context(creds(two, "https://a.example")),
        shared_ssl_context(
            replace(
                creds(one, "https://a.example"),
                client_cert_pem=cert_pem(cert),
                client_key_pem=key_pem(key),
            )
        ),
        shared_ssl_context(replace(creds(one, "https://a.example"), insecure=True)),
    ]
    assert all(other is not base for other in others)
    assert len({id(other) for other in others}) == 3
    assert others[2].check_hostname is False and base.check_hostname is True
