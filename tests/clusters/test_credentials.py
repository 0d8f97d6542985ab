"""Credential Secrets (fleet and Argo CD formats), kubeconfigs and exec providers."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from fleet.clusters.credentials import (
    CredentialsError,
    ExecConfig,
    ExecError,
    ExecPolicy,
    ExecProvider,
    fleet_secret_data,
    parse_exec_credential,
    parse_fleet_data,
    parse_kubeconfig,
    parse_secret,
    secret_data,
    to_credentials,
)

pytestmark = pytest.mark.anyio

TOKEN = "tok-3f1c"


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def argocd_secret(config: Mapping[str, object]) -> dict[str, object]:
    return {
        "metadata": {"name": "c", "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
        "data": {
            "name": b64("prod"),
            "server": b64("https://prod.example:6443"),
            "config": b64(json.dumps(config)),
            "project": b64("team-a"),
        },
    }


def test_a_fleet_secret_with_a_token_and_ca_parses() -> None:
    creds = parse_fleet_data({"token": TOKEN.encode(), "ca.crt": b"CA"})
    assert creds.token == TOKEN and creds.ca_pem == b"CA" and not creds.insecure


def test_a_fleet_secret_needs_both_halves_of_a_client_certificate() -> None:
    with pytest.raises(CredentialsError, match=r"tls\.crt and data\.tls\.key"):
        parse_fleet_data({"tls.crt": b"CERT"})


def test_a_fleet_secret_without_any_credential_is_rejected() -> None:
    with pytest.raises(CredentialsError, match="no token, client certificate or exec"):
        parse_fleet_data({"ca.crt": b"CA"})


def test_bad_base64_names_the_key_not_the_value() -> None:
    with pytest.raises(CredentialsError) as caught:
        secret_data({"data": {"token": "!!not-base64!!"}})
    assert str(caught.value) == "data.token: not valid base64"


def test_insecure_must_be_a_boolean() -> None:
    with pytest.raises(CredentialsError, match=r"data\.insecure"):
        parse_fleet_data({"token": b"t", "insecure": b"maybe"})


def test_a_fleet_exec_entry_parses_command_args_env_timeout() -> None:
    spec = {"command": "helper", "args": ["a"], "env": {"K": "V"}, "timeout": 3}
    creds = parse_fleet_data({"exec": json.dumps(spec).encode()})
    assert creds.exec == ExecConfig("helper", ("a",), (("K", "V"),), 3.0)


def test_an_argocd_cluster_secret_is_read_unchanged() -> None:
    config = {
        "bearerToken": TOKEN,
        "tlsClientConfig": {"caData": b64("CA"), "insecure": False, "serverName": "kube"},
    }
    creds = parse_secret(argocd_secret(config))
    assert (creds.name, creds.server, creds.project) == (
        "prod",
        "https://prod.example:6443",
        "team-a",
    )
    assert creds.token == TOKEN and creds.ca_pem == b"CA" and creds.tls_server_name == "kube"


def test_an_argocd_secret_with_client_certificate_data_parses() -> None:
    tls = {"certData": b64("CERT"), "keyData": b64("KEY")}
    creds = parse_secret(argocd_secret({"tlsClientConfig": tls}))
    assert creds.client_cert_pem == b"CERT" and creds.client_key_pem == b"KEY"


def test_an_argocd_exec_provider_config_parses() -> None:
    spec = {"command": "argocd-k8s-auth", "args": ["gcp"], "apiVersion": "v1beta1"}
    creds = parse_secret(argocd_secret({"execProviderConfig": spec}))
    assert creds.exec is not None and creds.exec.command == "argocd-k8s-auth"


def test_an_argocd_secret_error_names_the_json_path() -> None:
    with pytest.raises(CredentialsError, match=r"tlsClientConfig\.insecure"):
        parse_secret(argocd_secret({"bearerToken": "t", "tlsClientConfig": {"insecure": "yes"}}))


def _kubeconfig(**user: object) -> str:
    return yaml.safe_dump(
        {
            "clusters": [
                {
                    "name": "c",
                    "cluster": {"server": "https://a", "certificate-authority-data": b64("CA")},
                }
            ],
            "users": [{"name": "u", "user": user}],
            "contexts": [
                {"name": "one", "context": {"cluster": "c", "user": "u"}},
                {"name": "two", "context": {"cluster": "c", "user": "missing"}},
            ],
            "current-context": "one",
        }
    )


def test_a_kubeconfig_context_gives_server_ca_and_token() -> None:
    creds = parse_kubeconfig(_kubeconfig(token=TOKEN))
    assert (creds.server, creds.ca_pem, creds.token) == ("https://a", b"CA", TOKEN)


def test_a_kubeconfig_context_naming_a_missing_user_is_an_error() -> None:
    with pytest.raises(CredentialsError, match="no user named 'missing'"):
        parse_kubeconfig(_kubeconfig(token=TOKEN), "two")


def test_a_kubeconfig_in_a_secret_is_used_with_its_context_key() -> None:
    data = {"kubeconfig": _kubeconfig(token=TOKEN).encode(), "context": b"one"}
    assert parse_fleet_data(data).token == TOKEN


def test_secret_data_round_trips_through_the_fleet_format() -> None:
    creds = parse_fleet_data({"token": b"t", "ca.crt": b"CA", "insecure": b"true"})
    again = parse_fleet_data({k: base64.b64decode(v) for k, v in fleet_secret_data(creds).items()})
    assert again == creds


def test_an_exec_credential_with_expiry_parses() -> None:
    doc = {
        "kind": "ExecCredential",
        "status": {"token": "t", "expirationTimestamp": "2030-01-01T00:00:00Z"},
    }
    cred = parse_exec_credential(json.dumps(doc).encode())
    assert cred.token == "t" and cred.expires_at == 1893456000.0


def test_exec_output_that_is_not_an_exec_credential_is_rejected() -> None:
    with pytest.raises(CredentialsError, match="kind is not ExecCredential"):
        parse_exec_credential(b'{"kind": "Other"}')


def _provider(config: ExecConfig) -> ExecProvider:
    """A provider whose policy allows exactly this plugin (the default allows none)."""
    return ExecProvider(config, policy=ExecPolicy(allowed=frozenset({config.command})))


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "helper.sh"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _printer(tmp_path: Path, expiry: str) -> str:
    doc = json.dumps(
        {"kind": "ExecCredential", "status": {"token": TOKEN, "expirationTimestamp": expiry}}
    )
    return _script(tmp_path, f"echo run >> {tmp_path}/runs\ncat <<'EOF'\n{doc}\nEOF\n")


async def test_an_exec_token_is_cached_until_it_expires(tmp_path: Path) -> None:
    provider = _provider(ExecConfig(_printer(tmp_path, "2099-01-01T00:00:00Z")))
    assert await provider.token() == TOKEN
    assert await provider.token() == TOKEN
    assert provider.runs == 1


async def test_an_exec_token_near_expiry_is_fetched_again(tmp_path: Path) -> None:
    provider = _provider(ExecConfig(_printer(tmp_path, "2000-01-01T00:00:00Z")))
    await provider.token()
    await provider.token()
    assert provider.runs == 2


async def test_invalidate_forces_a_new_exec_run(tmp_path: Path) -> None:
    provider = _provider(ExecConfig(_printer(tmp_path, "2099-01-01T00:00:00Z")))
    await provider.token()
    provider.invalidate()
    await provider.token()
    assert provider.runs == 2


async def test_a_hanging_exec_plugin_times_out(tmp_path: Path) -> None:
    provider = _provider(ExecConfig(_script(tmp_path, "sleep 30\n"), timeout=0.3))
    with pytest.raises(ExecError, match="timed out"):
        await provider.token()


async def test_a_failing_exec_plugin_reports_its_exit_code_not_its_stderr(tmp_path: Path) -> None:
    provider = _provider(ExecConfig(_script(tmp_path, f"echo {TOKEN} >&2\nexit 3\n")))
    with pytest.raises(ExecError) as caught:
        await provider.token()
    assert "exit code 3" in str(caught.value) and TOKEN not in str(caught.value)


async def test_an_exec_plugin_gets_its_env_and_exec_info(tmp_path: Path) -> None:
    doc = '{"kind":"ExecCredential","status":{"token":"%s"}}'
    script = _script(tmp_path, f"printf '{doc}' \"$MY_TOKEN-${{KUBERNETES_EXEC_INFO:+set}}\"\n")
    provider = _provider(ExecConfig(script, env=(("MY_TOKEN", "abc"),)))
    token = await provider.token()
    assert token == "abc-set"


def test_to_credentials_prefers_the_clusters_insecure_override() -> None:
    creds = parse_fleet_data({"token": b"t", "insecure": b"true"})
    assert to_credentials(creds, "https://a", insecure=False).insecure is False
    assert to_credentials(creds, "https://a").insecure is True
