"""Repository credentials read from Argo CD repository and repo-creds Secrets."""

from __future__ import annotations

import base64

import pytest

from fleet.git.credentials import BearerToken, HTTPSCredentials, SSHCredentials
from fleet.git.secrets import (
    RepositorySecretError,
    access_for,
    parse_repository_secret,
)

REPOSITORY = {"argocd.argoproj.io/secret-type": "repository"}
REPO_CREDS = {"argocd.argoproj.io/secret-type": "repo-creds"}


def b64(**values: str) -> dict[str, str]:
    return {key: base64.b64encode(value.encode()).decode() for key, value in values.items()}


def test_username_and_password_become_https_credentials() -> None:
    access = parse_repository_secret(
        "r", REPOSITORY, b64(url="https://git.example/a.git", username="bot", password="s3cret")
    )
    assert access is not None
    assert access.credentials == HTTPSCredentials("bot", "s3cret")
    assert not access.template


def test_an_ssh_key_becomes_ssh_credentials_with_the_known_hosts_given() -> None:
    access = parse_repository_secret(
        "r",
        REPOSITORY,
        b64(url="git@git.example:org/a.git", sshPrivateKey="KEY"),
        known_hosts="git.example ssh-ed25519 AAAA",
    )
    assert access is not None
    assert access.credentials == SSHCredentials("KEY", "git.example ssh-ed25519 AAAA")


def test_a_bearer_token_and_tls_options_are_read() -> None:
    data = b64(
        url="https://git.example/a.git",
        bearerToken="tok",
        insecure="true",
        tlsClientCertData="CERT",
        tlsClientCertKey="PRIVATE",
    )
    access = parse_repository_secret("r", REPOSITORY, data)
    assert access is not None
    assert access.credentials == BearerToken("tok")
    assert access.tls.insecure_skip_verify
    assert (access.tls.client_cert, access.tls.client_key) == ("CERT", "PRIVATE")


def test_plain_string_data_is_accepted_when_not_encoded() -> None:
    access = parse_repository_secret(
        "r", REPOSITORY, {"url": "https://git.example/a.git"}, encoded=False
    )
    assert access is not None and access.credentials is None


def test_a_secret_of_another_type_is_ignored() -> None:
    assert parse_repository_secret("c", {"argocd.argoproj.io/secret-type": "cluster"}, {}) is None


def test_a_missing_url_names_the_secret_and_key_but_no_value() -> None:
    with pytest.raises(RepositorySecretError, match="Secret broken: key `url`") as caught:
        parse_repository_secret("broken", REPOSITORY, b64(password="s3cret"))
    assert "s3cret" not in str(caught.value)


def test_credentials_never_show_in_repr() -> None:
    access = parse_repository_secret(
        "r", REPOSITORY, b64(url="https://git.example/a.git", username="bot", password="s3cret")
    )
    assert "s3cret" not in repr(access)


def test_an_exact_repository_secret_wins_over_a_template() -> None:
    template = parse_repository_secret("t", REPO_CREDS, b64(url="https://git.example/"))
    exact = parse_repository_secret("e", REPOSITORY, b64(url="https://git.example/org/a.git"))
    assert template is not None and exact is not None
    assert access_for("https://git.example/org/a", [template, exact]) is exact


def test_the_longest_template_prefix_wins() -> None:
    short = parse_repository_secret("s", REPO_CREDS, b64(url="https://git.example/"))
    long = parse_repository_secret("l", REPO_CREDS, b64(url="https://git.example/org/"))
    assert short is not None and long is not None
    assert access_for("https://git.example/org/b.git", [short, long]) is long
    assert access_for("https://other.example/b.git", [short, long]) is None
