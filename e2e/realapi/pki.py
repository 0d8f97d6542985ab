"""Certificates and keys for one test cluster, made with the `cryptography` package.

Each cluster gets its own CA, so a client that picks up the wrong cluster's CA fails the TLS
handshake exactly as it would against real clusters. Serving and client certificates use ECDSA
P-256 (fast to generate: a fleet of clusters starts in well under a second of key generation); the
service-account signing key is RSA 2048 because that is what every Kubernetes distribution uses
and what token reviewers expect by default.

Files are written 0600 inside a directory the caller created 0700.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from fleet.sim.certs import Authority, key_pem, name

_VALIDITY = timedelta(days=7)  # test clusters live minutes; a week covers clock skew and soaks


@dataclass(frozen=True)
class ClusterPki:
    """Paths of one cluster's PEM files."""

    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    client_cert: Path  # admin client certificate (O=system:masters)
    client_key: Path
    sa_key: Path  # service-account signing key (private)
    sa_pub: Path  # its public half, for token verification


def _write(path: Path, data: bytes) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def make_cluster_pki(directory: Path, cluster: str, admin_user: str) -> ClusterPki:
    """Create the CA, serving, admin-client and service-account keys of `cluster` in `directory`.

    The serving certificate names 127.0.0.1, ::1 and localhost (where the harness listens) plus
    the in-cluster names, so a kubeconfig may use any of them.
    """
    authority = Authority.create(name(f"fleet-e2e-ca-{cluster}"), _VALIDITY)
    serving, serving_key = authority.issue(
        name(f"kube-apiserver-{cluster}"),
        ExtendedKeyUsageOID.SERVER_AUTH,
        [
            "127.0.0.1",
            "::1",
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ],
    )
    client, client_key = authority.issue(
        name(admin_user, "system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH
    )
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = serialization.Encoding.PEM
    return ClusterPki(
        ca_cert=_write(directory / "ca.crt", authority.cert.public_bytes(pem)),
        serving_cert=_write(directory / "apiserver.crt", serving.public_bytes(pem)),
        serving_key=_write(directory / "apiserver.key", key_pem(serving_key)),
        client_cert=_write(directory / "admin.crt", client.public_bytes(pem)),
        client_key=_write(directory / "admin.key", key_pem(client_key)),
        sa_key=_write(directory / "sa.key", key_pem(sa_key)),
        sa_pub=_write(
            directory / "sa.pub",
            sa_key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo),
        ),
    )
