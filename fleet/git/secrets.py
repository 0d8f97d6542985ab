"""Repository credentials from Kubernetes Secrets, in Argo CD's format, so teams migrate as is.

Argo CD keeps a repository's credentials in a Secret labelled
`argocd.argoproj.io/secret-type: repository` (one repository, matched by exact `url`) or
`repo-creds` (a credential template for every repository whose URL starts with `url`; the longest
prefix wins). Keys: `url`, `username`, `password`, `bearerToken`, `sshPrivateKey`,
`insecureIgnoreHostKey`, `insecure`, `tlsClientCertData`, `tlsClientCertKey`. Secret `data` values
are base64; `stringData`-style plain values are accepted too.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fleet.git.credentials import (
    BearerToken,
    Credentials,
    HTTPSCredentials,
    SSHCredentials,
    TLSOptions,
)
from fleet.git.urls import normalize_url

SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"
REPOSITORY = "repository"
REPO_CREDS = "repo-creds"


class RepositorySecretError(ValueError):
    """A repository Secret is malformed; the message names the Secret and key, never a value."""


@dataclass(frozen=True, slots=True)
class RepositoryAccess:
    """How to reach repositories matching `url`: credentials and TLS options."""

    url: str
    template: bool
    credentials: Credentials | None = field(default=None, repr=False)
    tls: TLSOptions = field(default_factory=TLSOptions, repr=False)


def parse_repository_secret(
    name: str,
    labels: Mapping[str, str],
    data: Mapping[str, str | bytes],
    *,
    known_hosts: str = "",
    encoded: bool = True,
) -> RepositoryAccess | None:
    """The access a repository or repo-creds Secret grants; None for any other Secret."""
    kind = labels.get(SECRET_TYPE_LABEL)
    if kind not in (REPOSITORY, REPO_CREDS):
        return None
    values = {key: _decode(name, key, value, encoded) for key, value in data.items()}
    url = values.get("url", "").strip()
    if not url:
        raise RepositorySecretError(f"Secret {name}: key `url` is required")
    credentials: Credentials | None = None
    if values.get("sshPrivateKey"):
        credentials = SSHCredentials(
            private_key=values["sshPrivateKey"],
            known_hosts=known_hosts,
            insecure_ignore_host_key=_flag(values, "insecureIgnoreHostKey"),
        )
    elif values.get("bearerToken"):
        credentials = BearerToken(values["bearerToken"])
    elif values.get("password") or values.get("username"):
        credentials = HTTPSCredentials(values.get("username", ""), values.get("password", ""))
    tls = TLSOptions(
        client_cert=values.get("tlsClientCertData", ""),
        client_key=values.get("tlsClientCertKey", ""),
        insecure_skip_verify=_flag(values, "insecure"),
    )
    return RepositoryAccess(url, kind == REPO_CREDS, credentials, tls)


def access_for(repo_url: str, candidates: Iterable[RepositoryAccess]) -> RepositoryAccess | None:
    """Argo CD's choice: the repository Secret with this exact URL, else the repo-creds
    template with the longest matching prefix, else nothing (anonymous access)."""
    wanted = normalize_url(repo_url)
    best: RepositoryAccess | None = None
    for access in candidates:
        if not access.template:
            if normalize_url(access.url) == wanted:
                return access
        elif repo_url.startswith(access.url) and (best is None or len(access.url) > len(best.url)):
            best = access
    return best


def _decode(name: str, key: str, value: object, encoded: bool) -> str:
    """A Secret value as text; anything but a string (or bytes) is the Secret's error, named."""
    if isinstance(value, str):
        raw = value.encode()
    elif isinstance(value, bytes):
        raw = value
    else:
        raise RepositorySecretError(f"Secret {name}: key `{key}` is not a string")
    if encoded:
        try:
            raw = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as error:
            raise RepositorySecretError(f"Secret {name}: key `{key}` is not base64") from error
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RepositorySecretError(f"Secret {name}: key `{key}` is not UTF-8 text") from error


def _flag(values: Mapping[str, str], key: str) -> bool:
    return values.get(key, "").strip().lower() == "true"
