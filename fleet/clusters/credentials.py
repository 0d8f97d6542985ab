"""Cluster credential Secrets: fleet's own format and Argo CD cluster Secrets, unchanged.

Why both: users migrating from Argo CD keep their `argocd.argoproj.io/secret-type: cluster`
Secrets; fleet's format is flatter (one data key per item) so `kubectl create secret` can write
it. Both parse into one `SecretCredentials`, which `to_credentials` turns into the
`fleet.kube.Credentials` a client is built from.

Errors name the data key or JSON path that is wrong, never a value: values are credentials.
Exec providers (kubectl's `client.authentication.k8s.io` plugins) run off the event loop with a
timeout and their token is cached until shortly before it expires, as kubectl does.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import yaml

from fleet.kube import Credentials

ARGOCD_SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"
EXEC_INFO = json.dumps(
    {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }
)
DEFAULT_EXEC_TIMEOUT = 30.0
EXPIRY_SKEW = 30.0
"""Seconds before `expirationTimestamp` at which a cached exec token is refreshed."""


class CredentialsError(ValueError):
    """A credential Secret is malformed; the message names the key, never the value."""


@dataclass(frozen=True, slots=True)
class ExecConfig:
    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    timeout: float = DEFAULT_EXEC_TIMEOUT
    api_version: str = "client.authentication.k8s.io/v1"


@dataclass(frozen=True, slots=True)
class SecretCredentials:
    """What a credential Secret holds. `server`, `name`, `project` come only from Argo CD's
    format (fleet keeps them on the Cluster resource)."""

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
    for key, value in (secret.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(value or "", validate=True)
        except (binascii.Error, ValueError):
            raise CredentialsError(f"data.{key}: not valid base64") from None
    for key, value in (secret.get("stringData") or {}).items():
        out[key] = str(value).encode()
    return out


def is_argocd_secret(secret: Mapping[str, Any]) -> bool:
    labels = (secret.get("metadata") or {}).get("labels") or {}
    return labels.get(ARGOCD_SECRET_TYPE_LABEL) == "cluster"


def parse_secret(secret: Mapping[str, Any], key: str | None = None) -> SecretCredentials:
    """Either format, chosen by the Argo CD label. `key` (a Cluster's `secretRef.key`) selects
    one data entry holding a kubeconfig."""
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
    `kubeconfig` (+ optional `context`)."""
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
        try:
            exec_json = json.loads(exec_text)
        except ValueError:
            raise CredentialsError("data.exec: not JSON") from None
        exec_config = parse_exec(exec_json, "data.exec")
    creds = SecretCredentials(
        token=_text(data, "token"),
        client_cert_pem=cert or None,
        client_key_pem=key_pem or None,
        ca_pem=data.get("ca.crt") or None,
        insecure=_bool(_text(data, "insecure"), "data.insecure"),
        exec=exec_config,
        tls_server_name=_text(data, "tlsServerName"),
    )
    _require_auth(creds, "data")
    return creds


def _require_auth(creds: SecretCredentials, where: str) -> None:
    if not (creds.token or creds.client_cert_pem or creds.exec):
        raise CredentialsError(f"{where}: no token, client certificate or exec provider")


def parse_exec(spec: Any, where: str) -> ExecConfig:
    """An exec provider: `{command, args, env, timeout, apiVersion}`; env as a map (fleet, Argo
    CD) or a list of `{name, value}` (kubeconfig)."""
    if not isinstance(spec, Mapping):
        raise CredentialsError(f"{where}: expected an object")
    command = spec.get("command")
    if not isinstance(command, str) or not command:
        raise CredentialsError(f"{where}.command: required string")
    args = spec.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise CredentialsError(f"{where}.args: expected a list of strings")
    raw_env = spec.get("env") or {}
    env: list[tuple[str, str]] = []
    if isinstance(raw_env, Mapping):
        env = [(str(k), str(v)) for k, v in raw_env.items()]
    elif isinstance(raw_env, list):
        for i, item in enumerate(raw_env):
            if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
                raise CredentialsError(f"{where}.env[{i}]: expected {{name, value}}")
            env.append((item["name"], str(item.get("value", ""))))
    else:
        raise CredentialsError(f"{where}.env: expected a map or a list")
    timeout = spec.get("timeout", DEFAULT_EXEC_TIMEOUT)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        raise CredentialsError(f"{where}.timeout: expected a positive number of seconds")
    api_version = spec.get("apiVersion") or "client.authentication.k8s.io/v1"
    return ExecConfig(command, tuple(args), tuple(env), float(timeout), str(api_version))


def _b64_field(value: Any, where: str) -> bytes | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise CredentialsError(f"{where}: expected a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CredentialsError(f"{where}: not valid base64") from None


def parse_argocd_secret(secret: Mapping[str, Any]) -> SecretCredentials:
    """An Argo CD cluster Secret: `name`, `server`, `project`, `config` JSON with
    `bearerToken`, `tlsClientConfig{caData, certData, keyData, insecure, serverName}`,
    `execProviderConfig`."""
    data = secret_data(secret)
    server = _text(data, "server")
    if not server:
        raise CredentialsError("data.server: required in an Argo CD cluster Secret")
    config_text = _text(data, "config") or "{}"
    try:
        config = json.loads(config_text)
    except ValueError:
        raise CredentialsError("data.config: not JSON") from None
    if not isinstance(config, Mapping):
        raise CredentialsError("data.config: expected an object")
    if config.get("awsAuthConfig") or config.get("username"):
        raise CredentialsError("data.config: awsAuthConfig and basic auth are not supported")
    tls = config.get("tlsClientConfig") or {}
    if not isinstance(tls, Mapping):
        raise CredentialsError("data.config.tlsClientConfig: expected an object")
    insecure = tls.get("insecure", False)
    if not isinstance(insecure, bool):
        raise CredentialsError("data.config.tlsClientConfig.insecure: expected a boolean")
    exec_spec = config.get("execProviderConfig")
    token = config.get("bearerToken")
    if token is not None and not isinstance(token, str):
        raise CredentialsError("data.config.bearerToken: expected a string")
    creds = SecretCredentials(
        token=token or None,
        client_cert_pem=_b64_field(tls.get("certData"), "data.config.tlsClientConfig.certData"),
        client_key_pem=_b64_field(tls.get("keyData"), "data.config.tlsClientConfig.keyData"),
        ca_pem=_b64_field(tls.get("caData"), "data.config.tlsClientConfig.caData"),
        insecure=insecure,
        exec=parse_exec(exec_spec, "data.config.execProviderConfig") if exec_spec else None,
        tls_server_name=tls.get("serverName") or None,
        server=server,
        name=_text(data, "name") or server,
        project=_text(data, "project") or "",
    )
    _require_auth(creds, "data.config")
    return creds


def _kube_bytes(entry: Mapping[str, Any], data_key: str, file_key: str, where: str) -> bytes | None:
    if entry.get(data_key):
        return _b64_field(entry[data_key], f"{where}.{data_key}")
    path = entry.get(file_key)
    if path:
        try:
            return Path(str(path)).read_bytes()
        except OSError:
            raise CredentialsError(f"{where}.{file_key}: cannot read the file") from None
    return None


def _named(items: Any, name: str, kind: str, where: str) -> Mapping[str, Any]:
    for item in items or []:
        if isinstance(item, Mapping) and item.get("name") == name:
            value = item.get(kind)
            if isinstance(value, Mapping):
                return value
    raise CredentialsError(f"{where}: no {kind} named {name!r}")


def parse_kubeconfig(
    text: str, context: str | None = None, *, where: str = "kubeconfig"
) -> SecretCredentials:
    """One context of a kubeconfig (the current one unless `context`)."""
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        raise CredentialsError(f"{where}: not YAML") from None
    if not isinstance(config, Mapping):
        raise CredentialsError(f"{where}: expected a kubeconfig document")
    name = context or config.get("current-context")
    if not name:
        raise CredentialsError(f"{where}: no context given and no current-context")
    ctx = _named(config.get("contexts"), name, "context", f"{where}.contexts")
    cluster_name = str(ctx.get("cluster") or "")
    cluster = _named(config.get("clusters"), cluster_name, "cluster", f"{where}.clusters")
    user = _named(config.get("users"), str(ctx.get("user") or ""), "user", f"{where}.users")
    exec_spec = user.get("exec")
    token = user.get("token")
    if not token and user.get("tokenFile"):
        try:
            token = Path(str(user["tokenFile"])).read_text().strip()
        except OSError:
            raise CredentialsError(f"{where}.users.tokenFile: cannot read the file") from None
    creds = SecretCredentials(
        token=token or None,
        client_cert_pem=_kube_bytes(
            user, "client-certificate-data", "client-certificate", f"{where}.users"
        ),
        client_key_pem=_kube_bytes(user, "client-key-data", "client-key", f"{where}.users"),
        ca_pem=_kube_bytes(
            cluster, "certificate-authority-data", "certificate-authority", f"{where}.clusters"
        ),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        exec=parse_exec(exec_spec, f"{where}.users.exec") if exec_spec else None,
        tls_server_name=cluster.get("tls-server-name") or None,
        server=cluster.get("server") or None,
    )
    _require_auth(creds, f"{where}.users")
    return creds


def fleet_secret_data(creds: SecretCredentials) -> dict[str, str]:
    """The fleet-format `data` (base64) storing `creds`: the inverse of `parse_fleet_data`."""
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
        doc = json.loads(output)
    except ValueError:
        raise CredentialsError("exec output: not an ExecCredential JSON document") from None
    if not isinstance(doc, Mapping) or doc.get("kind") != "ExecCredential":
        raise CredentialsError("exec output: kind is not ExecCredential")
    status = doc.get("status")
    if not isinstance(status, Mapping):
        raise CredentialsError("exec output.status: required")
    token = status.get("token")
    cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
    if not token and not (cert and key):
        raise CredentialsError("exec output.status: no token or client certificate")
    return ExecCredential(
        token=str(token) if token else None,
        client_cert_pem=str(cert).encode() if cert else None,
        client_key_pem=str(key).encode() if key else None,
        expires_at=_parse_time(status.get("expirationTimestamp"), "exec output.status"),
    )


class ExecError(CredentialsError):
    """The exec plugin failed or timed out (its stderr is not kept: it may echo secrets)."""


class ExecProvider:
    """Runs one exec plugin and caches its credential until `expires_at - skew`.

    Concurrent callers share one run (a lock), so 50 requests at expiry start one process.
    """

    def __init__(self, config: ExecConfig, *, skew: float = EXPIRY_SKEW) -> None:
        self.config = config
        self.skew = skew
        self.runs = 0
        self._cached: ExecCredential | None = None
        self._lock = anyio.Lock()

    def _valid(self, cred: ExecCredential | None) -> bool:
        if cred is None:
            return False
        return cred.expires_at is None or time.time() < cred.expires_at - self.skew

    def invalidate(self) -> None:
        """Forget the cached credential (the server answered 401, as kubectl re-runs then)."""
        self._cached = None

    async def credential(self) -> ExecCredential:
        if self._valid(self._cached):
            assert self._cached is not None
            return self._cached
        async with self._lock:
            if not self._valid(self._cached):
                self._cached = await self._run()
            assert self._cached is not None
            return self._cached

    async def token(self) -> str:
        cred = await self.credential()
        if not cred.token:
            raise ExecError("exec output.status.token: missing")
        return cred.token

    async def _run(self) -> ExecCredential:
        env = {**os.environ, **dict(self.config.env), "KUBERNETES_EXEC_INFO": EXEC_INFO}
        self.runs += 1
        try:
            with anyio.fail_after(self.config.timeout):
                result = await anyio.run_process(
                    [self.config.command, *self.config.args], env=env, check=False
                )
        except TimeoutError:
            raise ExecError(f"exec {self.config.command}: timed out") from None
        except OSError as exc:
            raise ExecError(f"exec {self.config.command}: {exc.strerror or 'cannot run'}") from None
        if result.returncode != 0:
            raise ExecError(f"exec {self.config.command}: exit code {result.returncode}")
        return parse_exec_credential(result.stdout)


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
