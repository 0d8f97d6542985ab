"""Credentials reach git only through private files and the environment, never text we show."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import structlog

from fleet.git import (
    BearerToken,
    GitFetchError,
    HTTPSCredentials,
    RepoCache,
    SSHCredentials,
    TLSOptions,
    redact_url,
)
from fleet.git.credentials import git_environment
from fleet.sim.tls import TLSMaterial, generate, server_context, write_files
from tests.git.support import HttpBackend, Upstream, free_port

TOKEN = "s3cr3t-t0ken-9f8e7d"


@pytest.fixture
async def http_backend(served: Path) -> AsyncIterator[HttpBackend]:
    backend = HttpBackend(served, "alice", TOKEN)
    await backend.start()
    yield backend
    await backend.stop()


@pytest.fixture
def tls_material() -> TLSMaterial:
    return generate()


@pytest.fixture
async def https_backend(
    served: Path, tmp_path: Path, tls_material: TLSMaterial
) -> AsyncIterator[HttpBackend]:
    _, cert, key = write_files(tls_material, tmp_path / "tls")
    backend = HttpBackend(served, "alice", TOKEN)
    await backend.start(server_context(cert, key))
    yield backend
    await backend.stop()


def _no_secret_anywhere(texts: list[str], root: Path) -> None:
    for text in texts:
        assert TOKEN not in text
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            assert TOKEN not in name
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as handle:
                    assert TOKEN.encode() not in handle.read(), path


@pytest.mark.anyio
async def test_credential_bearing_url_is_never_shown(
    tmp_path: Path,
    http_backend: HttpBackend,
    upstream: Callable[[str], Upstream],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sha = upstream("apps").commit({"a/x": "1"})
    secret_url = http_backend.url("apps", f"alice:{TOKEN}")
    texts: list[str] = []
    with structlog.testing.capture_logs() as logs:
        async with RepoCache(tmp_path / "cache", fetch_timeout=20) as cache:
            assert await cache.resolve(secret_url, "main") == sha
            status = cache.status(secret_url)
            assert status.repo_url == http_backend.url("apps")
            assert cache.repositories() == [http_backend.url("apps")]

            # Wrong password: the error names the repository, without any secret.
            wrong = http_backend.url("apps", "alice:not-the-token-at-all")
            cache.add(wrong)
            with pytest.raises(GitFetchError) as failed:
                await cache.refresh(wrong)
            texts += [str(failed.value), repr(failed.value), str(cache.status(wrong))]
            assert "not-the-token-at-all" not in " ".join(texts)

            # An https URL nobody answers: same rule for the network error path.
            dead = f"https://alice:{TOKEN}@127.0.0.1:{free_port()}/repo.git"
            with pytest.raises(GitFetchError) as unreachable:
                await cache.refresh(dead)
            texts += [str(unreachable.value), str(cache.status(dead)), redact_url(dead)]
            assert str(unreachable.value).startswith(f"https://127.0.0.1:{dead.split(':')[3]}")
            texts.append(str(status))
    texts += [repr(event) for event in logs]
    captured = capsys.readouterr()
    texts += [captured.out, captured.err]
    assert any(event.get("event") == "git command" for event in logs)  # argv was logged
    _no_secret_anywhere(texts, tmp_path / "cache")
    assert http_backend.requests > 0


@pytest.mark.anyio
async def test_bearer_token_fetch(
    tmp_path: Path, http_backend: HttpBackend, upstream: Callable[[str], Upstream]
) -> None:
    sha = upstream("apps").commit({"a/x": "1"})
    url = http_backend.url("apps")
    async with RepoCache(tmp_path / "cache", fetch_timeout=20) as cache:
        with pytest.raises(GitFetchError):
            await cache.refresh(url)  # no credentials: 401, and never a prompt
        cache.add(url, BearerToken(TOKEN))
        assert await cache.resolve(url, "main") == sha
    _no_secret_anywhere([], tmp_path / "cache")


@pytest.mark.anyio
async def test_https_url_with_user_and_token(
    tmp_path: Path,
    https_backend: HttpBackend,
    tls_material: TLSMaterial,
    upstream: Callable[[str], Upstream],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sha = upstream("apps").commit({"a/x": "1"})
    secret_url = https_backend.url("apps", f"alice:{TOKEN}")
    assert secret_url.startswith("https://alice:")
    texts: list[str] = []
    with structlog.testing.capture_logs() as logs:
        async with RepoCache(tmp_path / "cache", fetch_timeout=20) as cache:
            # Without our CA the server is not trusted: a clear error, no secret.
            with pytest.raises(GitFetchError) as untrusted:
                await cache.refresh(secret_url)
            texts.append(str(untrusted.value))
            assert "certificate" in str(untrusted.value).lower()
            cache.add(secret_url, tls=TLSOptions(ca_cert=tls_material.ca_pem.decode()))
            assert await cache.resolve(secret_url, "main") == sha
            texts.append(str(cache.status(secret_url)))
    texts += [repr(event) for event in logs]
    captured = capsys.readouterr()
    texts += [captured.out, captured.err]
    _no_secret_anywhere(texts, tmp_path / "cache")


def test_askpass_files_are_private_and_removed(tmp_path: Path) -> None:
    with git_environment(HTTPSCredentials("alice", TOKEN), temp_root=str(tmp_path)) as env:
        script = Path(env["GIT_ASKPASS"])
        private = script.parent
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        assert stat.S_IMODE((private / "password").stat().st_mode) == 0o600
        assert TOKEN not in script.read_text()
        assert all(TOKEN not in value for value in env.values())
        assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert not private.exists()


def test_ssh_key_file_and_strict_host_checking(tmp_path: Path) -> None:
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----"
    creds = SSHCredentials(key, known_hosts="github.com ssh-ed25519 AAAA")
    with git_environment(creds, temp_root=str(tmp_path)) as env:
        command = env["GIT_SSH_COMMAND"]
        assert "StrictHostKeyChecking=yes" in command and "BatchMode=yes" in command
        assert "abc" not in command and "KEY" not in command
        key_file = Path(command.split(" -i ")[1].split()[0])
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert key_file.read_text().endswith("KEY-----\n")
    assert not key_file.exists()
    assert "secret" not in repr(SSHCredentials("secret"))


def test_bearer_token_goes_in_config_environment_not_argv(tmp_path: Path) -> None:
    with git_environment(BearerToken(TOKEN), temp_root=str(tmp_path)) as env:
        assert env["GIT_CONFIG_COUNT"] == "2"
        assert env["GIT_CONFIG_KEY_0"] == "credential.helper" and env["GIT_CONFIG_VALUE_0"] == ""
        assert env["GIT_CONFIG_KEY_1"] == "http.extraHeader"
        assert env["GIT_CONFIG_VALUE_1"] == f"Authorization: Bearer {TOKEN}"
    assert TOKEN not in repr(BearerToken(TOKEN))
