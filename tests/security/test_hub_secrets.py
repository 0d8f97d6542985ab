"""Malformed hub objects (cluster Secrets in both formats, Clusters, watch events) never stop
the cluster registry: each is reported on itself, naming the field, and every other cluster
still registers."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import anyio
import pytest
import structlog
import yaml
from kubernetes_asyncio.client import ApiClient

from fleet.api.cluster import InvalidClusterError, parse_cluster
from fleet.clusters import registry as registry_module
from fleet.clusters.credentials import (
    ARGOCD_SECRET_TYPE_LABEL,
    CredentialsError,
    parse_exec_credential,
    parse_kubeconfig,
    parse_secret,
)
from fleet.clusters.registry import HubRegistry
from fleet.kube import request_json
from tests.clusters.harness import (
    Env,
    condition,
    put_cluster,
    put_secret,
    ready,
    reason_is,
    running,
    wait_cluster,
)

pytestmark = pytest.mark.anyio

TOKEN = "hub-token-5e0c9b"


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


# -- the table: every level of both Secret formats and the Cluster resource ---------------------


def argocd(config: Any = None, **meta: Any) -> dict[str, Any]:
    """An Argo CD cluster Secret whose `config` is `config` (JSON-encoded unless bytes/str)."""
    if config is None:
        config = {"bearerToken": TOKEN}
    raw = config if isinstance(config, str) else json.dumps(config)
    metadata: dict[str, Any] = {
        "name": "argo",
        "labels": {ARGOCD_SECRET_TYPE_LABEL: "cluster"},
    }
    metadata.update(meta)
    return {
        "metadata": metadata,
        "data": {"name": b64("prod"), "server": b64("https://prod.example"), "config": b64(raw)},
    }


def tls(**fields: Any) -> dict[str, Any]:
    return argocd({"bearerToken": TOKEN, "tlsClientConfig": fields})


def exec_config(**fields: Any) -> dict[str, Any]:
    return argocd({"execProviderConfig": {"command": "argocd-k8s-auth", **fields}})


def flat(**data: str | bytes) -> dict[str, Any]:
    return {"metadata": {"name": "flat"}, "data": {k: b64(v) for k, v in data.items()}}


def flat_exec(spec: Any) -> dict[str, Any]:
    return flat(exec=json.dumps(spec))


GOOD_KUBECONFIG: dict[str, Any] = {
    "clusters": [{"name": "c", "cluster": {"server": "https://member.example"}}],
    "users": [{"name": "u", "user": {"token": TOKEN}}],
    "contexts": [{"name": "one", "context": {"cluster": "c", "user": "u"}}],
    "current-context": "one",
}


def kubeconfig(**changes: Any) -> dict[str, Any]:
    """A fleet Secret holding a kubeconfig; `changes` replace top-level keys, or, given as
    `cluster_X` / `user_X` / `context_X`, one field of the single cluster, user or context."""
    doc = json.loads(json.dumps(GOOD_KUBECONFIG))
    for key, value in changes.items():
        section, _, field_name = key.partition("_")
        if section in ("cluster", "user", "context") and field_name:
            doc[f"{section}s"][0][section][field_name.replace("_", "-")] = value
        else:
            doc[key.replace("_", "-")] = value
    return flat(kubeconfig=yaml.safe_dump(doc))


MALFORMED: list[tuple[str, Mapping[str, Any], str]] = [
    # Secret metadata and data (either format)
    ("metadata-not-a-map", {"metadata": 5, "data": {}}, "metadata"),
    ("labels-not-a-map", {"metadata": {"labels": "x"}, "data": {}}, "metadata.labels"),
    ("data-not-a-map", {"metadata": {}, "data": 5}, "data"),
    ("data-value-not-a-string", {"metadata": {}, "data": {"token": 5}}, "data.token"),
    ("stringdata-not-a-map", {"metadata": {}, "stringData": [1]}, "stringData"),
    ("stringdata-value-a-list", {"metadata": {}, "stringData": {"token": [1]}}, "stringData.token"),
    # Argo CD format
    (
        "argocd-label-value-a-number",
        argocd(labels={ARGOCD_SECRET_TYPE_LABEL: "cluster", "env": 5}),
        "metadata.labels.env",
    ),
    ("argocd-annotations-a-list", argocd(annotations=[1]), "metadata.annotations"),
    ("argocd-config-a-list", argocd("[1]"), "data.config"),
    ("argocd-config-a-number", argocd("5"), "data.config"),
    ("argocd-bearer-token-a-number", argocd({"bearerToken": 5}), "data.config.bearerToken"),
    (
        "argocd-tls-a-list",
        argocd({"bearerToken": TOKEN, "tlsClientConfig": [1]}),
        "data.config.tlsClientConfig",
    ),
    ("argocd-server-name-a-number", tls(serverName=5), "data.config.tlsClientConfig.serverName"),
    ("argocd-ca-data-a-number", tls(caData=5), "data.config.tlsClientConfig.caData"),
    (
        "argocd-cert-data-a-map",
        tls(certData={}, keyData="a2V5"),
        "data.config.tlsClientConfig.certData",
    ),
    ("argocd-insecure-a-string", tls(insecure="yes"), "data.config.tlsClientConfig.insecure"),
    ("argocd-exec-a-number", argocd({"execProviderConfig": 5}), "data.config.execProviderConfig"),
    (
        "argocd-exec-command-a-number",
        exec_config(command=5),
        "data.config.execProviderConfig.command",
    ),
    ("argocd-exec-args-a-string", exec_config(args="x"), "data.config.execProviderConfig.args"),
    (
        "argocd-exec-arg-a-number",
        exec_config(args=["a", 5]),
        "data.config.execProviderConfig.args[1]",
    ),
    (
        "argocd-exec-env-value-a-number",
        exec_config(env={"A": 5}),
        "data.config.execProviderConfig.env.A",
    ),
    (
        "argocd-exec-api-version-a-map",
        exec_config(apiVersion={}),
        "data.config.execProviderConfig.apiVersion",
    ),
    (
        "argocd-exec-timeout-a-string",
        exec_config(timeout="10"),
        "data.config.execProviderConfig.timeout",
    ),
    # fleet's flat format
    ("fleet-exec-a-number", flat_exec(5), "data.exec"),
    ("fleet-exec-command-a-list", flat_exec({"command": ["sh"]}), "data.exec.command"),
    (
        "fleet-exec-env-item-name-a-number",
        flat_exec({"command": "x", "env": [{"name": 5}]}),
        "data.exec.env[0].name",
    ),
    (
        "fleet-exec-env-item-value-a-list",
        flat_exec({"command": "x", "env": [{"name": "A", "value": [1]}]}),
        "data.exec.env[0].value",
    ),
    ("fleet-exec-env-a-number", flat_exec({"command": "x", "env": 5}), "data.exec.env"),
    ("fleet-insecure-not-boolean", flat(token=TOKEN, insecure="sometimes"), "data.insecure"),
    ("fleet-token-not-utf8", flat(token=b"\xff\xfe"), "data.token"),
    # fleet's kubeconfig key
    ("kubeconfig-a-scalar", flat(kubeconfig="5"), "kubeconfig"),
    ("kubeconfig-contexts-a-number", kubeconfig(contexts=5), "kubeconfig.contexts"),
    ("kubeconfig-users-a-string", kubeconfig(users="x"), "kubeconfig.users"),
    ("kubeconfig-clusters-of-numbers", kubeconfig(clusters=[5]), "kubeconfig.clusters[0]"),
    (
        "kubeconfig-current-context-a-number",
        kubeconfig(current_context=5),
        "kubeconfig.current-context",
    ),
    (
        "kubeconfig-context-a-number",
        kubeconfig(contexts=[{"name": "one", "context": 5}]),
        "kubeconfig.contexts[0].context",
    ),
    (
        "kubeconfig-context-cluster-a-list",
        kubeconfig(context_cluster=["c"]),
        "kubeconfig.contexts[0].context.cluster",
    ),
    (
        "kubeconfig-server-a-list",
        kubeconfig(cluster_server=[1]),
        "kubeconfig.clusters[0].cluster.server",
    ),
    (
        "kubeconfig-insecure-a-string",
        kubeconfig(cluster_insecure_skip_tls_verify="yes"),
        "kubeconfig.clusters[0].cluster.insecure-skip-tls-verify",
    ),
    (
        "kubeconfig-server-name-a-number",
        kubeconfig(cluster_tls_server_name=5),
        "kubeconfig.clusters[0].cluster.tls-server-name",
    ),
    (
        "kubeconfig-ca-data-a-number",
        kubeconfig(cluster_certificate_authority_data=5),
        "kubeconfig.clusters[0].cluster.certificate-authority-data",
    ),
    (
        "kubeconfig-user-a-number",
        kubeconfig(users=[{"name": "u", "user": 5}]),
        "kubeconfig.users[0].user",
    ),
    ("kubeconfig-token-a-number", kubeconfig(user_token=5), "kubeconfig.users[0].user.token"),
    ("kubeconfig-exec-a-string", kubeconfig(user_exec="x"), "kubeconfig.users[0].user.exec"),
    (
        "kubeconfig-context-key-not-utf8",
        flat(kubeconfig=yaml.safe_dump(GOOD_KUBECONFIG), context=b"\xff"),
        "data.context",
    ),
]


@pytest.mark.parametrize(
    ("secret", "field"), [(s, f) for _, s, f in MALFORMED], ids=[i for i, _, _ in MALFORMED]
)
def test_a_malformed_cluster_secret_is_refused_naming_the_field(
    secret: Mapping[str, Any], field: str
) -> None:
    with pytest.raises(CredentialsError) as caught:
        parse_secret(secret)
    message = str(caught.value)
    assert message.startswith(f"{field}:"), message
    assert TOKEN not in message


def _cluster(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"server": "https://member.example", "secretRef": {"name": "s"}}
    body.update(spec)
    return {"metadata": {"name": "c"}, "spec": body}


CLUSTERS: list[tuple[str, Mapping[str, Any], str]] = [
    ("server-bad-ipv6", _cluster(server="https://[::1"), "spec.server"),
    ("server-bad-port", _cluster(server="https://member.example:99999"), "spec.server"),
    ("server-a-number", _cluster(server=5), "spec.server"),
    ("spec-a-list", {"metadata": {"name": "c"}, "spec": [1]}, "spec"),
    ("metadata-a-list", {"metadata": [1], "spec": {}}, "metadata"),
    ("name-a-number", {"metadata": {"name": 5}, "spec": {}}, "metadata.name"),
    ("label-a-number", _cluster(labels={"env": 5}), "spec.labels.env"),
    ("secret-ref-a-string", _cluster(secretRef="s"), "spec.secretRef"),
    ("secret-ref-key-a-number", _cluster(secretRef={"name": "s", "key": 5}), "spec.secretRef.key"),
    ("insecure-a-string", _cluster(insecure="yes"), "spec.insecure"),
]


@pytest.mark.parametrize(
    ("obj", "field"), [(o, f) for _, o, f in CLUSTERS], ids=[i for i, _, _ in CLUSTERS]
)
def test_a_malformed_cluster_resource_is_refused_naming_the_field(
    obj: Mapping[str, Any], field: str
) -> None:
    with pytest.raises(InvalidClusterError) as caught:
        parse_cluster(obj)
    assert caught.value.path == field


# -- the registry on fleet.sim ------------------------------------------------------------------


async def events_for(hub: ApiClient, namespace: str, name: str) -> list[dict[str, Any]]:
    listing = await request_json(hub, "GET", f"/api/v1/namespaces/{namespace}/events")
    return [
        e for e in listing.get("items") or [] if (e.get("involvedObject") or {}).get("name") == name
    ]


async def wait_event(hub: ApiClient, namespace: str, name: str, reason: str) -> dict[str, Any]:
    with anyio.fail_after(15):
        while True:
            for event in await events_for(hub, namespace, name):
                if event.get("reason") == reason:
                    return event
            await anyio.sleep(0.05)


async def test_malformed_secrets_beside_a_good_one_do_not_stop_the_registry(
    sim: Env, hub: ApiClient, namespace: str
) -> None:
    """The finding: `tlsClientConfig.serverName: 5` or a kubeconfig with `contexts: 5` made the
    whole controller exit (and exit again after every restart)."""
    member = sim.members[0]
    bad_argocd = {
        "bearerToken": TOKEN,
        "tlsClientConfig": {"serverName": 5, "caData": b64(member.ca_pem)},
    }
    await put_secret(
        hub,
        namespace,
        "argo-bad",
        {"name": "argo-bad", "server": member.server, "config": json.dumps(bad_argocd)},
        labels={ARGOCD_SECRET_TYPE_LABEL: "cluster"},
    )
    bad_kubeconfig = dict(GOOD_KUBECONFIG, contexts=5)
    await put_secret(hub, namespace, "kc-bad", {"kubeconfig": yaml.safe_dump(bad_kubeconfig)})
    await put_cluster(hub, namespace, "a-bad", member.server, "kc-bad")
    await put_secret(hub, namespace, "good", {"token": member.token, "ca.crt": member.ca_pem})
    await put_cluster(hub, namespace, "b-good", member.server, "good")

    with structlog.testing.capture_logs() as logs:
        async with running(sim, namespace) as (_, registry):
            await wait_cluster(hub, namespace, "b-good", ready)
            bad = await wait_cluster(hub, namespace, "a-bad", reason_is("InvalidCredentials"))
            event = await wait_event(hub, namespace, "argo-bad", "InvalidCredentials")
            assert set(registry.registered) == {"b-good"}

    assert condition(bad, "Ready")["message"].startswith("kubeconfig.contexts:")
    assert "data.config.tlsClientConfig.serverName" in event["message"]
    assert event["involvedObject"]["kind"] == "Secret"
    reported = [e for e in logs if e.get("secret") == "argo-bad"]
    assert reported and "data.config.tlsClientConfig.serverName" in reported[0]["error"]
    assert TOKEN not in json.dumps([logs, event, bad.get("status")], default=str)


async def test_an_unexpected_error_on_one_cluster_is_reported_on_it_and_skipped(
    sim: Env, hub: ApiClient, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever a fix misses: an exception nobody expected while handling one Cluster is
    reported on that Cluster (without its text, which could hold a value) and the rest go on."""
    member = sim.members[0]
    real_parse = registry_module.parse_secret

    def parse(secret: Mapping[str, Any], key: str | None = None) -> Any:
        if secret["metadata"]["name"] == "boom":
            raise RuntimeError(f"unexpected, holding {TOKEN}")
        return real_parse(secret, key)

    monkeypatch.setattr(registry_module, "parse_secret", parse)
    await put_secret(hub, namespace, "boom", {"token": member.token})
    await put_cluster(hub, namespace, "a-boom", member.server, "boom")
    await put_secret(hub, namespace, "good", {"token": member.token, "ca.crt": member.ca_pem})
    await put_cluster(hub, namespace, "b-good", member.server, "good")
    async with running(sim, namespace):
        await wait_cluster(hub, namespace, "b-good", ready)
        boom = await wait_cluster(hub, namespace, "a-boom", reason_is("InternalError"))
    message = condition(boom, "Ready")["message"]
    assert "RuntimeError" in message and TOKEN not in message


async def test_watch_events_without_a_name_are_skipped(sim: Env, hub: ApiClient) -> None:
    """A list or watch event whose object has no string `metadata.name` is dropped, not a
    KeyError that ends the watch loop."""
    registry = HubRegistry(hub, "fleet-system")
    reset = registry._cache_reset(registry.clusters, "clusters")
    event = registry._cache_event(registry.clusters)
    await reset([{"metadata": 5}, {}, {"metadata": {"name": ["x"]}}, {"metadata": {"name": "ok"}}])
    for kind, obj in [
        ("ADDED", {}),
        ("MODIFIED", {"metadata": None}),
        ("DELETED", {"metadata": {"name": 7}}),
        ("MODIFIED", {"metadata": {"name": "ok", "generation": [1]}}),
    ]:
        await event(kind, obj)
    assert list(registry.clusters) == ["ok"]


ALIAS_BOMB = "\n".join(
    ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 12)]
    + ["current-context: c", "contexts: *a11"]
)


def test_a_kubeconfig_alias_bomb_is_refused_not_expanded() -> None:
    """Twelve levels of five-fold aliases name 10 x 5^11 (about 488 million) values."""
    with pytest.raises(CredentialsError, match=r"kubeconfig: more than .* values once aliases"):
        parse_kubeconfig(ALIAS_BOMB)


def test_an_exec_plugin_answer_nested_without_end_is_refused() -> None:
    with pytest.raises(CredentialsError, match="exec output"):
        parse_exec_credential(b"[" * 100_000 + b"]" * 100_000)
