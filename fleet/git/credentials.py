"""Repository credentials, and the private files and environment that hand them to git.

Credentials arrive as data (Secrets come later) and must never reach git's argv, which any user
on the machine can read with `ps`. HTTPS passwords go through `GIT_ASKPASS`, a script in a
private (0700) temp directory that prints a 0600 file; bearer tokens through
`GIT_CONFIG_COUNT/KEY/VALUE` (`http.extraHeader`); SSH keys through `GIT_SSH_COMMAND` naming a
0600 key file. The directory is removed when the git command is done. The environment of a
process is readable only by its own user, unlike argv.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

_ASKPASS_SCRIPT = """#!/bin/sh
case "$1" in
  Username*) cat {username} ;;
  *) cat {password} ;;
esac
"""


@dataclass(frozen=True, slots=True)
class HTTPSCredentials:
    """HTTP basic auth: a username and a password or personal access token."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class BearerToken:
    """A token sent as `Authorization: Bearer ...` (e.g. Bitbucket/Gitea access tokens)."""

    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class SSHCredentials:
    """An SSH private key; host keys are checked against `known_hosts` unless told otherwise."""

    private_key: str = field(repr=False)
    known_hosts: str = ""
    insecure_ignore_host_key: bool = False


Credentials = HTTPSCredentials | BearerToken | SSHCredentials


@dataclass(frozen=True, slots=True)
class TLSOptions:
    """HTTPS server verification and client certificates (Argo CD's tlsClientCert*, insecure).

    PEM data, written to the same private directory as the credentials for the command's life.
    """

    ca_cert: str = ""
    client_cert: str = ""
    client_key: str = field(default="", repr=False)
    insecure_skip_verify: bool = False


def secrets_of(credentials: Credentials | None, tls: TLSOptions | None = None) -> tuple[str, ...]:
    """Every secret string in `credentials` (and a TLS client key): scrubbed from shown text."""
    if tls is not None and tls.client_key:
        return (tls.client_key, *secrets_of(credentials))
    if isinstance(credentials, HTTPSCredentials):
        return (credentials.password,)
    if isinstance(credentials, BearerToken):
        return (credentials.token,)
    if isinstance(credentials, SSHCredentials):
        return (credentials.private_key,)
    return ()


def base_environment() -> dict[str, str]:
    """What every git command run by fleet gets: never prompt, never store credentials.

    `credential.helper` is reset so a helper in the user's git config cannot write our secrets
    to disk (e.g. `store` into ~/.git-credentials) nor answer with someone else's.
    """
    return {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "true",
        "SSH_ASKPASS": "true",
        "GCM_INTERACTIVE": "never",
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
    }


def _config_env(pairs: list[tuple[str, str]]) -> dict[str, str]:
    env = {"GIT_CONFIG_COUNT": str(len(pairs))}
    for index, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def _write_private(path: str, content: str, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)


def _tls_env(tls: TLSOptions, private_dir: str) -> dict[str, str]:
    """git's GIT_SSL_* variables: they win over any http.ssl* config and over an inherited
    GIT_SSL_CAINFO (set on many machines to the system bundle), which a config entry would not.
    """
    env: dict[str, str] = {}
    if tls.insecure_skip_verify:
        env["GIT_SSL_NO_VERIFY"] = "true"
    for name, content, variable in (
        ("ca.pem", tls.ca_cert, "GIT_SSL_CAINFO"),
        ("client.pem", tls.client_cert, "GIT_SSL_CERT"),
        ("client.key", tls.client_key, "GIT_SSL_KEY"),
    ):
        if content:
            path = os.path.join(private_dir, name)
            _write_private(path, content)
            env[variable] = path
    return env


@contextmanager
def git_environment(
    credentials: Credentials | None,
    *,
    tls: TLSOptions | None = None,
    temp_root: str | None = None,
) -> Iterator[dict[str, str]]:
    """The environment for one git command using `credentials`; its private files removed after.

    Synchronous: it runs in the worker thread next to the git command it serves.
    """
    env = base_environment()
    pairs: list[tuple[str, str]] = [("credential.helper", "")]
    if credentials is None and tls is None:
        env.update(_config_env(pairs))
        yield env
        return
    private_dir = tempfile.mkdtemp(prefix="fleet-git-cred-", dir=temp_root)  # mode 0700
    try:
        if tls is not None:
            env.update(_tls_env(tls, private_dir))
        if isinstance(credentials, HTTPSCredentials):
            env["GIT_ASKPASS"] = _askpass(credentials, private_dir)
        elif isinstance(credentials, BearerToken):
            pairs.append(("http.extraHeader", f"Authorization: Bearer {credentials.token}"))
        elif isinstance(credentials, SSHCredentials):
            env["GIT_SSH_COMMAND"] = _ssh_command(credentials, private_dir)
        env.update(_config_env(pairs))
        yield env
    finally:
        shutil.rmtree(private_dir, ignore_errors=True)


def _askpass(credentials: HTTPSCredentials, private_dir: str) -> str:
    """A script printing the username or password file, whichever git asks for."""
    username = os.path.join(private_dir, "username")
    password = os.path.join(private_dir, "password")
    _write_private(username, credentials.username)
    _write_private(password, credentials.password)
    script = os.path.join(private_dir, "askpass")
    content = _ASKPASS_SCRIPT.format(username=shlex.quote(username), password=shlex.quote(password))
    _write_private(script, content, mode=stat.S_IRWXU)
    return script


def _ssh_command(credentials: SSHCredentials, private_dir: str) -> str:
    key = os.path.join(private_dir, "id")
    content = credentials.private_key
    _write_private(key, content if content.endswith("\n") else content + "\n")
    options = ["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-F", "/dev/null"]
    if credentials.insecure_ignore_host_key:
        options += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    else:
        known_hosts = os.path.join(private_dir, "known_hosts")
        _write_private(known_hosts, credentials.known_hosts)
        options += ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known_hosts}"]
    return shlex.join(["ssh", "-i", key, *options])
