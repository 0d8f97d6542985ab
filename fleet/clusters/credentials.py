"""Cluster credential Secrets: fleet's own format and Argo CD cluster Secrets, unchanged.

Why both: users migrating from Argo CD keep their `argocd.argoproj.io/secret-type: cluster`
Secrets; fleet's format is flatter (one data key per item) so `kubectl create secret` can write
it. Both parse into one `SecretCredentials`, which `to_credentials` turns into the
`fleet.kube.Credentials` a client is built from.

Everything in a Secret is untrusted input (whoever may write Secrets in the hub namespace wrote
it): it is read only through the typed accessors below, so a wrong type anywhere is a
`CredentialsError` naming the key or JSON path, never an AttributeError that stops the
controller. Errors never include a value: values are credentials. Credentials from the hub
never name files on the controller's disk (only the operator's own kubeconfig may, see
`parse_kubeconfig(allow_files=True)`), and their exec plugins run only when the operator
allowed the command (`ExecPolicy`), with a minimal environment, a bounded time and output.
Exec tokens are cached until shortly before they expire, as kubectl does.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import structlog
import yaml

from fleet.kube import Credentials
from generators import yamlio
from generators.fields import type_name

log = structlog.get_logger("fleet.clusters.credentials")

ARGOCD_SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"
EXEC_INFO = json.dumps(
    {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }
)
DEFAULT_EXEC_TIMEOUT = 30.0
MAX_EXEC_TIMEOUT = 60.0
"""The longest `timeout` an exec plugin may ask for: a hanging plugin delays only its own
cluster, but a process held for a day is still a leak."""
MAX_EXEC_OUTPUT = 1 << 20
"""Bytes an exec plugin may print (an ExecCredential is a few KiB); more is an error."""
MAX_CREDENTIAL_FILE = 1 << 20
"""Bytes read from a file an operator's kubeconfig names (`/dev/zero` is not a token)."""
EXEC_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""PATH of exec plugins from the hub (and where a bare command name is looked up)."""
EXPIRY_SKEW = 30.0
"""Seconds before `expirationTimestamp` at which a cached exec token is refreshed."""


class CredentialsError(ValueError):
    """A credential Secret is malformed; the message names the key, never the value."""


class ExecNotAllowed(CredentialsError):
    """An exec plugin the operator did not allow (`fleet controller run --exec-plugin-allow`)."""


class InsecureServer(CredentialsError):
    """Credentials would be sent over plain http."""


class ServerMismatch(CredentialsError):
    """A Secret that names its server is used by a Cluster pointing at another one."""


# -- typed access to untrusted documents ------------------------------------------------------
# The pattern of generators/fields.py, raising CredentialsError: `where` is the path so far.


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _expected(what: str, value: Any, where: str) -> CredentialsError:
    return CredentialsError(f"{where}: expected {what}, got {type_name(value)}")


def as_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _expected("a mapping", value, where)
    return value


def as_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _expected("a list", value, where)
    return value


def as_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _expected("a string", value, where)
    return value


def opt_mapping(parent: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    """The mapping at `key`, or an empty one when absent or null."""
    value = parent.get(key)
    return {} if value is None else as_mapping(value, _join(where, key))


def opt_list(parent: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = parent.get(key)
    return [] if value is None else as_list(value, _join(where, key))


def opt_str(parent: Mapping[str, Any], key: str, where: str) -> str | None:
    """The string at `key`; None when absent, null or empty."""
    value = parent.get(key)
    return None if value is None else (as_str(value, _join(where, key)) or None)


def opt_bool(parent: Mapping[str, Any], key: str, where: str) -> bool:
    value = parent.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _expected("a boolean", value, _join(where, key))
    return value


def string_map(parent: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    """A `map[string]string` such as labels or annotations."""
    path = _join(where, key)
    return {str(k): as_str(v, f"{path}.{k}") for k, v in opt_mapping(parent, key, where).items()}


def _json(text: str, where: str) -> Any:
    try:
        return yamlio.load_json(text)
    except yamlio.DocumentShapeError as error:
        raise CredentialsError(f"{where}: {error}") from None
    except ValueError:
        raise CredentialsError(f"{where}: not JSON") from None


def server_url(value: str, where: str) -> str:
    """`value` if it is an http(s) URL with a host (whether http may carry credentials is
    `check_transport`'s decision)."""
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises on a port out of range
    except ValueError:
        raise CredentialsError(f"{where}: not a valid URL") from None
    if parts.scheme.lower() not in ("https", "http") or not parts.hostname:
        raise CredentialsError(f"{where}: expected an https:// URL")
    return value


def check_transport(server: str, where: str) -> None:
    """Refuse a server that is not https: a bearer token or a client certificate's use over
    plain http is readable by anyone on the path."""
    scheme = urlsplit(server).scheme.lower()
    if scheme != "https":
        raise InsecureServer(
            f"{where}: {scheme or 'a URL without a scheme'} would carry the credentials in "
            "clear text; use https://"
        )


@dataclass(frozen=True, slots=True)
class ExecConfig:
    command: str
    args: tuple[str, ...] = field(default=(), repr=False)
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    timeout: float = DEFAULT_EXEC_TIMEOUT
    api_version: str = "client.authentication.k8s.io/v1"
    where: str = field(default="exec", compare=False)
    """The path of this config in its Secret, for messages (`data.exec`, ...)."""


@dataclass(frozen=True, slots=True)
class SecretCredentials:
    """What a credential Secret holds. `name`, `project`, `labels` and `annotations` come only
    from Argo CD's format (fleet keeps them on the Cluster resource)."""

    token: str | None = field(default=None, repr=False)
    client_cert_pem: bytes | None = field(default=None, repr=False)
    client_key_pem: bytes | None = field(default=None, repr=False)
    ca_pem: bytes | None = field(default=None, repr=False)
    insecure: bool = False
    exec: ExecConfig | None = None
    tls_server_name: str | None = None
    server: str | None = None
    name: str | None = None
    project: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    server_field: str | None = None
    """Where the Secret binds its credentials to `server` (`data.server`): they are then used
    for that server only. None: a kubeconfig's server, or none named."""
    insecure_field: str | None = None
    """The field that turned TLS verification off, for the Cluster's InsecureTLS condition."""


@dataclass(frozen=True, slots=True)
class ExecCredential:
    token: str | None = field(repr=False)
    client_cert_pem: bytes | None = field(default=None, repr=False)
    client_key_pem: bytes | None = field(default=None, repr=False)
    expires_at: float | None = None
    """Unix time; None: valid until the server says 401."""


# -- Secret data ------------------------------------------------------------------------------


def secret_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """Decoded `data` (base64) merged with `stringData`, as the API server would store them."""
    out: dict[str, bytes] = {}
    for key, value in opt_mapping(secret, "data", "").items():
        try:
            out[key] = base64.b64decode(as_str(value, f"data.{key}"), validate=True)
        except (binascii.Error, ValueError) as error:
            if isinstance(error, CredentialsError):
                raise
            raise CredentialsError(f"data.{key}: not valid base64") from None
    for key, value in opt_mapping(secret, "stringData", "").items():
        out[key] = as_str(value, f"stringData.{key}").encode()
    return out


def is_argocd_secret(secret: Mapping[str, Any]) -> bool:
    """Whether `secret` carries Argo CD's cluster label; never raises (any Secret of the
    namespace is asked), a malformed one is simply not an Argo CD cluster Secret."""
    meta = secret.get("metadata")
    labels = meta.get("labels") if isinstance(meta, Mapping) else None
    return isinstance(labels, Mapping) and labels.get(ARGOCD_SECRET_TYPE_LABEL) == "cluster"


def secret_metadata(secret: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The Secret's labels and annotations, checked to be maps of strings."""
    meta = as_mapping(secret.get("metadata") or {}, "metadata")
    return string_map(meta, "labels", "metadata"), string_map(meta, "annotations", "metadata")


def parse_secret(secret: Mapping[str, Any], key: str | None = None) -> SecretCredentials:
    """Either format, chosen by the Argo CD label. `key` (a Cluster's `secretRef.key`) selects
    one data entry holding a kubeconfig. Never reads a file."""
    secret_metadata(secret)
    if is_argocd_secret(secret):
        return parse_argocd_secret(secret)
    return parse_fleet_data(secret_data(secret), key)


def _text(data: Mapping[str, bytes], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        text = value.decode().strip()
    except UnicodeDecodeError:
        raise CredentialsError(f"data.{key}: not UTF-8") from None
    return text or None


def _bool(text: str | None, where: str) -> bool:
    if text is None:
        return False
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no", ""):
        return False
    raise CredentialsError(f"{where}: expected true or false")


def parse_fleet_data(data: Mapping[str, bytes], key: str | None = None) -> SecretCredentials:
    """fleet format: `token`, `tls.crt`+`tls.key`, `ca.crt`, `insecure`, `exec` (JSON),
    `server` (binds the credentials to that server), `kubeconfig` (+ optional `context`)."""
    if key is not None:
        if key not in data:
            raise CredentialsError(f"data.{key}: missing (named by secretRef.key)")
        return parse_kubeconfig(_text(data, key) or "", _text(data, "context"), where=key)
    if "kubeconfig" in data:
        return parse_kubeconfig(
            _text(data, "kubeconfig") or "", _text(data, "context"), where="kubeconfig"
        )
    cert, key_pem = data.get("tls.crt"), data.get("tls.key")
    if bool(cert) != bool(key_pem):
        raise CredentialsError("data.tls.crt and data.tls.key: both or neither")
    exec_config = None
    exec_text = _text(data, "exec")
    if exec_text is not None:
        exec_config = parse_exec(_json(exec_text, "data.exec"), "data.exec")
    server = _text(data, "server")
    insecure = _bool(_text(data, "insecure"), "data.insecure")
    creds = SecretCredentials(
        token=_text(data, "token"),
        client_cert_pem=cert or None,
        client_key_pem=key_pem or None,
        ca_pem=data.get("ca.crt") or None,
        insecure=insecure,
        exec=exec_config,
        tls_server_name=_text(data, "tlsServerName"),
        server=server_url(server, "data.server") if server else None,
        server_field="data.server" if server else None,
        insecure_field="data.insecure" if insecure else None,
    )
    _require_auth(creds, "data")
    return creds


def _require_auth(creds: SecretCredentials, where: str) -> None:
    if not (creds.token or creds.client_cert_pem or creds.exec):
        raise CredentialsError(f"{where}: no token, client certificate or exec provider")


def parse_exec(spec: Any, where: str) -> ExecConfig:
    """An exec provider: `{command, args, env, timeout, apiVersion}`; env as a map (fleet, Argo
    CD) or a list of `{name, value}` (kubeconfig). `timeout` is at most MAX_EXEC_TIMEOUT."""
    spec = as_mapping(spec, where)
    command = as_str(spec.get("command"), f"{where}.command")
    if not command:
        raise CredentialsError(f"{where}.command: must not be empty")
    args = [as_str(a, f"{where}.args[{i}]") for i, a in enumerate(opt_list(spec, "args", where))]
    raw_env = spec.get("env")
    env: list[tuple[str, str]] = []
    if isinstance(raw_env, Mapping):
        env = [(str(k), as_str(v, f"{where}.env.{k}")) for k, v in raw_env.items()]
    elif isinstance(raw_env, list):
        for i, item in enumerate(raw_env):
            entry = as_mapping(item, f"{where}.env[{i}]")
            name = as_str(entry.get("name"), f"{where}.env[{i}].name")
            env.append((name, as_str(entry.get("value", ""), f"{where}.env[{i}].value")))
    elif raw_env is not None:
        raise _expected("a mapping or a list", raw_env, f"{where}.env")
    timeout = spec.get("timeout")
    if timeout is None:
        timeout = DEFAULT_EXEC_TIMEOUT
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not timeout > 0:
        raise CredentialsError(f"{where}.timeout: expected a positive number of seconds")
    if not timeout <= MAX_EXEC_TIMEOUT:
        raise CredentialsError(
            f"{where}.timeout: at most {MAX_EXEC_TIMEOUT:g} seconds (a plugin holds its "
            "cluster's registration while it runs)"
        )
    api_version = opt_str(spec, "apiVersion", where) or "client.authentication.k8s.io/v1"
    return ExecConfig(command, tuple(args), tuple(env), float(timeout), api_version, where)


def _b64_field(value: Any, where: str) -> bytes | None:
    if value is None or value == "":
        return None
    try:
        return base64.b64decode(as_str(value, where), validate=True)
    except (binascii.Error, ValueError) as error:
        if isinstance(error, CredentialsError):
            raise
        raise CredentialsError(f"{where}: not valid base64") from None


def parse_argocd_secret(
    secret: Mapping[str, Any], *, require_auth: bool = True
) -> SecretCredentials:
    """An Argo CD cluster Secret: `name`, `server`, `project`, `config` JSON with
    `bearerToken`, `tlsClientConfig{caData, certData, keyData, insecure, serverName}`,
    `execProviderConfig`. The credentials are bound to `server` (as in Argo CD).

    `require_auth` False: a Secret without credentials is accepted (the in-cluster Secret,
    which Argo CD serves with the controller's own credentials)."""
    labels, annotations = secret_metadata(secret)
    labels.pop(ARGOCD_SECRET_TYPE_LABEL, None)
    data = secret_data(secret)
    server = _text(data, "server")
    if not server:
        raise CredentialsError("data.server: required in an Argo CD cluster Secret")
    server_url(server, "data.server")
    config = as_mapping(_json(_text(data, "config") or "{}", "data.config"), "data.config")
    if config.get("awsAuthConfig") or config.get("username"):
        raise CredentialsError("data.config: awsAuthConfig and basic auth are not supported")
    where = "data.config.tlsClientConfig"
    tls = opt_mapping(config, "tlsClientConfig", "data.config")
    insecure = opt_bool(tls, "insecure", where)
    exec_spec = config.get("execProviderConfig")
    exec_where = "data.config.execProviderConfig"
    creds = SecretCredentials(
        token=opt_str(config, "bearerToken", "data.config"),
        client_cert_pem=_b64_field(tls.get("certData"), f"{where}.certData"),
        client_key_pem=_b64_field(tls.get("keyData"), f"{where}.keyData"),
        ca_pem=_b64_field(tls.get("caData"), f"{where}.caData"),
        insecure=insecure,
        exec=parse_exec(exec_spec, exec_where) if exec_spec is not None else None,
        tls_server_name=opt_str(tls, "serverName", where),
        server=server,
        name=_text(data, "name") or server,
        project=_text(data, "project") or "",
        labels=labels,
        annotations=annotations,
        server_field="data.server",
        insecure_field=f"{where}.insecure" if insecure else None,
    )
    if require_auth:
        _require_auth(creds, "data.config")
    return creds


def _read_file(path: str, where: str) -> bytes:
    """A file an operator's own kubeconfig names, bounded (a device is not a credential)."""
    try:
        with Path(path).expanduser().open("rb") as handle:
            data = handle.read(MAX_CREDENTIAL_FILE + 1)
    except OSError:
        raise CredentialsError(f"{where}: cannot read the file") from None
    if len(data) > MAX_CREDENTIAL_FILE:
        raise CredentialsError(f"{where}: larger than {MAX_CREDENTIAL_FILE} bytes")
    return data


def _kube_bytes(
    entry: Mapping[str, Any], data_key: str, file_key: str, where: str, allow_files: bool
) -> bytes | None:
    path = opt_str(entry, file_key, where)
    if path is not None and not allow_files:
        raise CredentialsError(
            f"{where}.{file_key}: file references are not allowed in hub credentials; "
            f"use {data_key}"
        )
    data = _b64_field(entry.get(data_key), f"{where}.{data_key}")
    if data is None and path is not None:
        return _read_file(path, f"{where}.{file_key}")
    return data


def _named(
    config: Mapping[str, Any], plural: str, kind: str, name: str, where: str
) -> tuple[Mapping[str, Any], str]:
    """The `kind` of the entry named `name` in the list `plural`, and its path."""
    for i, item in enumerate(opt_list(config, plural, where)):
        entry = as_mapping(item, f"{where}.{plural}[{i}]")
        if entry.get("name") == name:
            path = f"{where}.{plural}[{i}].{kind}"
            return as_mapping(entry.get(kind), path), path
    raise CredentialsError(f"{where}.{plural}: no {kind} named {name!r}")


def parse_kubeconfig(
    text: str,
    context: str | None = None,
    *,
    where: str = "kubeconfig",
    allow_files: bool = False,
) -> SecretCredentials:
    """One context of a kubeconfig (the current one unless `context`).

    `allow_files`: read the files it names (`tokenFile`, `client-certificate`, `client-key`,
    `certificate-authority`). Only for the operator's own kubeconfig (`fleet cluster add`
    embeds them as data; the hub client); a kubeconfig from the hub naming a file is refused,
    or the controller would send its own files to the server the kubeconfig names."""
    try:
        loaded = yamlio.load(text)  # bounded: nesting, alias expansion, JSON types only
    except yamlio.DocumentShapeError as error:
        raise CredentialsError(f"{where}: {error}") from None
    except yaml.YAMLError:
        raise CredentialsError(f"{where}: not YAML") from None
    config = as_mapping(loaded, where)
    name = context or opt_str(config, "current-context", where)
    if not name:
        raise CredentialsError(f"{where}: no context given and no current-context")
    ctx, ctx_where = _named(config, "contexts", "context", name, where)
    cluster_name = opt_str(ctx, "cluster", ctx_where) or ""
    cluster, cluster_where = _named(config, "clusters", "cluster", cluster_name, where)
    user_name = opt_str(ctx, "user", ctx_where) or ""
    user, user_where = _named(config, "users", "user", user_name, where)
    token = opt_str(user, "token", user_where)
    token_file = opt_str(user, "tokenFile", user_where)
    if token_file is not None and not allow_files:
        raise CredentialsError(
            f"{user_where}.tokenFile: file references are not allowed in hub credentials; use token"
        )
    if not token and token_file is not None:
        token = _read_file(token_file, f"{user_where}.tokenFile").decode(errors="replace")
        token = token.strip() or None
    exec_spec = user.get("exec")
    server = opt_str(cluster, "server", cluster_where)
    insecure = opt_bool(cluster, "insecure-skip-tls-verify", cluster_where)
    creds = SecretCredentials(
        token=token,
        client_cert_pem=_kube_bytes(
            user, "client-certificate-data", "client-certificate", user_where, allow_files
        ),
        client_key_pem=_kube_bytes(user, "client-key-data", "client-key", user_where, allow_files),
        ca_pem=_kube_bytes(
            cluster,
            "certificate-authority-data",
            "certificate-authority",
            cluster_where,
            allow_files,
        ),
        insecure=insecure,
        exec=parse_exec(exec_spec, f"{user_where}.exec") if exec_spec is not None else None,
        tls_server_name=opt_str(cluster, "tls-server-name", cluster_where),
        server=server_url(server, f"{cluster_where}.server") if server else None,
        insecure_field=f"{cluster_where}.insecure-skip-tls-verify" if insecure else None,
    )
    _require_auth(creds, user_where)
    return creds


def fleet_secret_data(creds: SecretCredentials) -> dict[str, str]:
    """The fleet-format `data` (base64) storing `creds`: the inverse of `parse_fleet_data`.
    A `server` binds the credentials to it (no Cluster can send them elsewhere)."""
    raw: dict[str, bytes] = {}
    if creds.token:
        raw["token"] = creds.token.encode()
    if creds.client_cert_pem and creds.client_key_pem:
        raw["tls.crt"], raw["tls.key"] = creds.client_cert_pem, creds.client_key_pem
    if creds.ca_pem:
        raw["ca.crt"] = creds.ca_pem
    if creds.insecure:
        raw["insecure"] = b"true"
    if creds.tls_server_name:
        raw["tlsServerName"] = creds.tls_server_name.encode()
    if creds.server:
        raw["server"] = creds.server.encode()
    if creds.exec is not None:
        raw["exec"] = json.dumps(
            {
                "command": creds.exec.command,
                "args": list(creds.exec.args),
                "env": dict(creds.exec.env),
                "timeout": creds.exec.timeout,
                "apiVersion": creds.exec.api_version,
            }
        ).encode()
    return {k: base64.b64encode(v).decode() for k, v in raw.items()}


# -- exec providers ---------------------------------------------------------------------------


def _parse_time(text: Any, where: str) -> float | None:
    if text in (None, ""):
        return None
    if not isinstance(text, str):
        raise CredentialsError(f"{where}: expected an RFC 3339 timestamp")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise CredentialsError(f"{where}: expected an RFC 3339 timestamp") from None


def parse_exec_credential(output: bytes) -> ExecCredential:
    """The `ExecCredential` an exec plugin prints on stdout."""
    try:
        doc = yamlio.load_json(output)
    except ValueError:  # DocumentShapeError included: nested too deeply, too large
        raise CredentialsError("exec output: not an ExecCredential JSON document") from None
    if not isinstance(doc, Mapping) or doc.get("kind") != "ExecCredential":
        raise CredentialsError("exec output: kind is not ExecCredential")
    if doc.get("status") is None:
        raise CredentialsError("exec output.status: required")
    where = "exec output.status"
    status = as_mapping(doc.get("status"), where)
    token = opt_str(status, "token", where)
    cert = opt_str(status, "clientCertificateData", where)
    key = opt_str(status, "clientKeyData", where)
    if not token and not (cert and key):
        raise CredentialsError("exec output.status: no token or client certificate")
    return ExecCredential(
        token=token,
        client_cert_pem=cert.encode() if cert else None,
        client_key_pem=key.encode() if key else None,
        expires_at=_parse_time(status.get("expirationTimestamp"), f"{where}.expirationTimestamp"),
    )


class ExecError(CredentialsError):
    """The exec plugin failed or timed out (its stderr is not kept: it may echo secrets)."""


_FIXED_ENV = frozenset({"PATH", "HOME", "KUBERNETES_EXEC_INFO"})
_CODE_ENV = frozenset(
    {
        "BASH_ENV",
        "ENV",
        "NODE_OPTIONS",
        "PERL5LIB",
        "PERL5OPT",
        "PYTHONHOME",
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "RUBYLIB",
        "RUBYOPT",
    }
)
"""Variables that make an allowed program load other code: a Secret may not set them."""


@dataclass(frozen=True, slots=True)
class ExecPolicy:
    """Which exec plugins may run, and with what environment.

    Why: an exec plugin in a hub Secret runs as the controller. Argo CD runs any; fleet runs
    only commands the operator named (`fleet controller run --exec-plugin-allow CMD`, a bare
    name looked up in EXEC_PATH or an absolute path, matched exactly), with PATH fixed, a
    fresh HOME, the env the plugin config sets, KUBERNETES_EXEC_INFO, and the controller's
    variables named by `pass_env` (e.g. AWS_WEB_IDENTITY_TOKEN_FILE for EKS): never the rest
    of its environment (webhook secrets, ...). The default policy runs nothing."""

    allowed: frozenset[str] = frozenset()
    pass_env: frozenset[str] = frozenset()
    trusted: bool = False
    """The operator's own kubeconfig (`fleet cluster add`, the hub client): any command with
    the caller's environment, as kubectl does."""

    @classmethod
    def from_flags(cls, allow: Iterable[str], env: Iterable[str] = ()) -> ExecPolicy:
        """From `--exec-plugin-allow` and `--exec-plugin-env` (ValueError naming the flag)."""
        allowed, passed = frozenset(allow), frozenset(env)
        for command in sorted(allowed):
            if not command or ("/" in command and not command.startswith("/")):
                raise ValueError(
                    f"--exec-plugin-allow {command}: expected a command name (looked up in "
                    f"{EXEC_PATH}) or an absolute path"
                )
        for name in sorted(passed):
            if not name or "=" in name or name in _FIXED_ENV:
                raise ValueError(
                    f"--exec-plugin-env {name}: expected a variable name, not PATH, HOME"
                )
        return cls(allowed, passed)

    def check(self, config: ExecConfig) -> None:
        """ExecNotAllowed (naming the flag that allows it) unless `config` may run."""
        if self.trusted:
            return
        if config.command not in self.allowed:
            raise ExecNotAllowed(
                f"{config.where}.command: exec plugin {config.command!r} is not allowed; "
                f"the controller runs only plugins it is started with "
                f"(--exec-plugin-allow {config.command})"
            )
        for name, _ in config.env:
            if name in _FIXED_ENV or name in _CODE_ENV or name.startswith(("LD_", "DYLD_")):
                raise CredentialsError(
                    f"{config.where}.env.{name}: may not be set from a Secret (it changes "
                    "which code the plugin runs)"
                )

    def executable(self, command: str) -> str:
        if self.trusted or command.startswith("/"):
            return command
        found = shutil.which(command, path=EXEC_PATH)
        if found is None:
            raise ExecError(f"exec {command}: not found in {EXEC_PATH}")
        return found

    def environment(self, config: ExecConfig, home: str) -> dict[str, str]:
        if self.trusted:
            return {**os.environ, **dict(config.env), "KUBERNETES_EXEC_INFO": EXEC_INFO}
        passed = {name: os.environ[name] for name in self.pass_env if name in os.environ}
        return {
            **passed,
            **dict(config.env),
            "PATH": EXEC_PATH,
            "HOME": home,
            "KUBERNETES_EXEC_INFO": EXEC_INFO,
        }


NO_EXEC = ExecPolicy()
OPERATOR_EXEC = ExecPolicy(trusted=True)


async def _run_bounded(
    argv: list[str], env: dict[str, str], cwd: str | None, name: str
) -> tuple[int, bytes]:
    """Run a plugin in a session of its own: stdout read up to MAX_EXEC_OUTPUT, stdin and
    stderr closed; on any early exit (too much output, timeout, cancel) its whole process
    group is killed, children included."""
    # Shielded: a cancel arriving while the process is being created would leave it running
    # (asyncio kills only the direct child, not what it started), outside the `finally` below.
    with anyio.CancelScope(shield=True):
        process = await anyio.open_process(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    done = False
    try:
        out = bytearray()
        assert process.stdout is not None
        async for chunk in process.stdout:
            out += chunk
            if len(out) > MAX_EXEC_OUTPUT:
                raise ExecError(f"exec {name}: more than {MAX_EXEC_OUTPUT} bytes on stdout")
        code = await process.wait()
        done = True
        return code, bytes(out)
    finally:
        if not done:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        with anyio.CancelScope(shield=True):
            await process.aclose()


class ExecProvider:
    """Runs one exec plugin and caches its credential until `expires_at - skew`.

    Concurrent callers share one run (a lock), so 50 requests at expiry start one process.
    `policy` decides whether it may run at all (the default: no); every run is logged
    (`cluster.exec_plugin_run`, the command, never its arguments).
    """

    def __init__(
        self,
        config: ExecConfig,
        *,
        policy: ExecPolicy = NO_EXEC,
        cluster: str = "",
        skew: float = EXPIRY_SKEW,
    ) -> None:
        self.config = config
        self.policy = policy
        self.cluster = cluster
        self.skew = skew
        self.runs = 0
        self.last: ExecCredential | None = None
        """The last credential obtained, expired or not (None: never ran successfully)."""
        self._cached: ExecCredential | None = None
        self._lock = anyio.Lock()

    def _valid(self, cred: ExecCredential | None) -> bool:
        if cred is None:
            return False
        return cred.expires_at is None or time.time() < cred.expires_at - self.skew

    def fresh(self) -> bool:
        """A cached credential is valid now (credential() would not run the plugin)."""
        return self._valid(self._cached)

    def invalidate(self) -> None:
        """Forget the cached credential (the server answered 401, as kubectl re-runs then)."""
        self._cached = None

    async def credential(self) -> ExecCredential:
        if self._valid(self._cached):
            assert self._cached is not None
            return self._cached
        async with self._lock:
            if not self._valid(self._cached):
                self._cached = self.last = await self._run()
            assert self._cached is not None
            return self._cached

    async def token(self) -> str:
        cred = await self.credential()
        if not cred.token:
            if cred.client_cert_pem:
                raise ExecError(
                    f"exec {self.config.command}: returned a client certificate, not a token "
                    "(the client is being rebuilt with it)"
                )
            raise ExecError("exec output.status.token: missing")
        return cred.token

    async def _run(self) -> ExecCredential:
        config = self.config
        self.policy.check(config)
        executable = self.policy.executable(config.command)
        self.runs += 1
        log.info("cluster.exec_plugin_run", cluster=self.cluster, command=config.command)
        with tempfile.TemporaryDirectory(prefix="fleet-exec-") as home:
            env = self.policy.environment(config, home)
            cwd = None if self.policy.trusted else home
            try:
                with anyio.fail_after(config.timeout):
                    code, stdout = await _run_bounded(
                        [executable, *config.args], env, cwd, config.command
                    )
            except TimeoutError:
                raise ExecError(
                    f"exec {config.command}: timed out after {config.timeout:g} s"
                ) from None
            except OSError as exc:
                raise ExecError(f"exec {config.command}: {exc.strerror or 'cannot run'}") from None
        if code != 0:
            raise ExecError(f"exec {config.command}: exit code {code}")
        return parse_exec_credential(stdout)


def to_credentials(
    creds: SecretCredentials,
    server: str,
    *,
    insecure: bool | None = None,
    exec_provider: ExecProvider | None = None,
    exec_credential: ExecCredential | None = None,
) -> Credentials:
    """The `fleet.kube.Credentials` for a client. An exec plugin's token comes from
    `exec_provider` per request; a client certificate it returns (`exec_credential`) is baked
    into the TLS context, so the manager rebuilds the client when it expires."""
    cert, key = creds.client_cert_pem, creds.client_key_pem
    if exec_credential is not None and exec_credential.client_cert_pem:
        cert, key = exec_credential.client_cert_pem, exec_credential.client_key_pem
    token_source = None
    if exec_provider is not None and (exec_credential is None or exec_credential.token):
        token_source = exec_provider.token
    return Credentials(
        server=server,
        token=creds.token if token_source is None else None,
        client_cert_pem=cert,
        client_key_pem=key,
        ca_pem=creds.ca_pem,
        insecure=creds.insecure if insecure is None else insecure,
        tls_server_name=creds.tls_server_name,
        token_source=token_source,
    )
