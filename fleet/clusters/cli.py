"""`fleet cluster add|list|remove`: register member clusters on the hub.

The arguments are declared in `fleet.clusters.commands` (cheap to import); each handler here takes
the parsed args and returns an exit code (0 ok, 1 cluster/API failure, 2 bad input). Credentials
read from kubeconfigs go straight into a Secret on the hub; nothing printed (output, errors)
ever contains a token or key: errors carry only Status messages and field paths.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import yaml
from kubernetes_asyncio.client import ApiClient

from fleet.api.cluster import GROUP, PLURAL, VERSION, ClusterSpec, SecretRef, cluster_object
from fleet.clusters.commands import SA_NAMESPACE, SERVICE_ACCOUNT
from fleet.clusters.credentials import (
    OPERATOR_EXEC,
    CredentialsError,
    ExecProvider,
    SecretCredentials,
    fleet_secret_data,
    parse_kubeconfig,
    to_credentials,
)
from fleet.clusters.hub import hub_client
from fleet.clusters.probe import probe
from fleet.kube import Conflict, KubeError, NotFound, build_api_client, request_json

CLUSTER_LABEL = "fleet.gitops.dev/cluster"
TOKEN_SECONDS = 365 * 24 * 3600
TIMEOUT = 15.0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _handler(fn: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            code: int = anyio.run(fn, args)
        except CliError as error:
            print(f"fleet: {error}", file=sys.stderr)
            return error.code
        except CredentialsError as error:
            print(f"fleet: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KubeError as error:
            print(f"fleet: {error.reason}: {error.message}", file=sys.stderr)
            return EXIT_FAILED
        return code

    return run


# -- shared ----------------------------------------------------------------------------------


def _kubeconfig_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise CliError(f"{path}: {exc.strerror}", EXIT_BAD_INPUT) from None


def _client(creds: SecretCredentials) -> ApiClient:
    if not creds.server:
        raise CliError("the kubeconfig context has no server", EXIT_BAD_INPUT)
    # the operator's own kubeconfig: its exec plugin runs as kubectl would run it
    provider = ExecProvider(creds.exec, policy=OPERATOR_EXEC) if creds.exec else None
    return build_api_client(to_credentials(creds, creds.server, exec_provider=provider))


def _hub(args: argparse.Namespace) -> ApiClient:
    return hub_client(args.hub_kubeconfig, args.hub_context)


def _cluster_path(namespace: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"


async def _create_or_replace(api: ApiClient, path: str, name: str, body: dict[str, Any]) -> None:
    try:
        await request_json(api, "POST", path, body=body, timeout=TIMEOUT)
    except Conflict:
        current = await request_json(api, "GET", f"{path}/{name}", timeout=TIMEOUT)
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        await request_json(api, "PUT", f"{path}/{name}", body=body, timeout=TIMEOUT)


async def _create_if_missing(api: ApiClient, path: str, body: dict[str, Any]) -> None:
    with contextlib.suppress(Conflict):
        await request_json(api, "POST", path, body=body, timeout=TIMEOUT)


# -- add ---------------------------------------------------------------------------------------


def _labels(pairs: Sequence[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"--label {pair!r}: expected KEY=VALUE", EXIT_BAD_INPUT)
        labels[key] = value
    return labels


async def service_account_token(member: ApiClient) -> str:
    """Create ServiceAccount kube-system/fleet-manager bound to cluster-admin and return a
    long-lived token for it: a one-year TokenRequest, or (servers without TokenRequest) the
    token of a `kubernetes.io/service-account-token` Secret."""
    base = f"/api/v1/namespaces/{SA_NAMESPACE}"
    await _create_if_missing(
        member, f"{base}/serviceaccounts", {"metadata": {"name": SERVICE_ACCOUNT}}
    )
    await _create_if_missing(
        member,
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        {
            "metadata": {"name": SERVICE_ACCOUNT},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": SA_NAMESPACE}
            ],
        },
    )
    try:
        reply = await request_json(
            member,
            "POST",
            f"{base}/serviceaccounts/{SERVICE_ACCOUNT}/token",
            body={
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": TOKEN_SECONDS},
            },
            timeout=TIMEOUT,
        )
        token = (reply or {}).get("status", {}).get("token")
        if isinstance(token, str) and token:
            return token
    except NotFound:
        pass
    return await _legacy_token(member, base)


async def _legacy_token(member: ApiClient, base: str) -> str:
    import base64

    name = f"{SERVICE_ACCOUNT}-token"
    await _create_if_missing(
        member,
        f"{base}/secrets",
        {
            "metadata": {
                "name": name,
                "annotations": {"kubernetes.io/service-account.name": SERVICE_ACCOUNT},
            },
            "type": "kubernetes.io/service-account-token",
        },
    )
    with anyio.move_on_after(30):
        while True:
            secret = await request_json(member, "GET", f"{base}/secrets/{name}", timeout=TIMEOUT)
            token = (secret.get("data") or {}).get("token")
            if token:
                return base64.b64decode(token).decode()
            await anyio.sleep(0.5)
    raise CliError("the member cluster issued no ServiceAccount token within 30 s")


async def _add(args: argparse.Namespace) -> int:
    labels = _labels(args.label)
    creds = parse_kubeconfig(  # the operator's file: the files it names are embedded as data
        _kubeconfig_text(args.kubeconfig),
        args.context,
        where=str(args.kubeconfig),
        allow_files=True,
    )
    if not creds.server:
        raise CliError(f"{args.kubeconfig}: the context has no server", EXIT_BAD_INPUT)
    server = creds.server
    async with _client(creds) as member:
        if args.service_account:
            token = await service_account_token(member)
            creds = SecretCredentials(
                token=token,
                ca_pem=creds.ca_pem,
                insecure=creds.insecure,
                tls_server_name=creds.tls_server_name,
            )
    async with _client(replace(creds, server=server)) as member:
        result = await probe(member, timeout=TIMEOUT)
    if not result.ready:
        raise CliError(f"cannot use cluster {args.name}: {result.reason}: {result.message}")
    secret_name = f"cluster-{args.name}"
    ns = args.namespace
    async with _hub(args) as hub:
        await _create_if_missing(hub, "/api/v1/namespaces", {"metadata": {"name": ns}})
        await _create_or_replace(
            hub,
            f"/api/v1/namespaces/{ns}/secrets",
            secret_name,
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": secret_name,
                    "namespace": ns,
                    "labels": {CLUSTER_LABEL: args.name, "app.kubernetes.io/managed-by": "fleet"},
                },
                "type": "Opaque",
                # bound to `server`: a Cluster pointing elsewhere cannot use them
                "data": fleet_secret_data(replace(creds, server=server)),
            },
        )
        spec = ClusterSpec(server, SecretRef(secret_name), labels, {}, args.project)
        await _create_or_replace(
            hub, _cluster_path(ns), args.name, cluster_object(args.name, ns, spec)
        )
    how = "service account token" if args.service_account else "kubeconfig credentials"
    print(
        f"cluster {args.name} added: {server} ({result.server_version}), "
        f"{how} stored in secret {ns}/{secret_name}"
    )
    return 0


# -- list / remove -----------------------------------------------------------------------------


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return {}


def format_table(items: list[dict[str, Any]]) -> str:
    rows = [["NAME", "SERVER", "LABELS", "STATUS", "VERSION", "LATENCY"]]
    for obj in items:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        ready = _condition(obj, "Ready")
        state = "Unknown"
        if ready.get("status") == "True":
            state = "Ready"
        elif ready:
            state = f"NotReady ({ready.get('reason', '')})"
        labels = ",".join(f"{k}={v}" for k, v in sorted((spec.get("labels") or {}).items()))
        latency = status.get("latencyMs")
        rows.append(
            [
                obj["metadata"]["name"],
                str(spec.get("server", "")),
                labels or "<none>",
                state,
                str(status.get("serverVersion") or "-"),
                f"{latency}ms" if latency is not None else "-",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join(
        "   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n"
        for row in rows
    )


async def _list(args: argparse.Namespace) -> int:
    async with _hub(args) as hub:
        listing = await request_json(hub, "GET", _cluster_path(args.namespace), timeout=TIMEOUT)
    items = sorted(listing.get("items") or [], key=lambda o: o["metadata"]["name"])
    for obj in items:
        obj["metadata"].pop("managedFields", None)
    if args.output == "json":
        sys.stdout.write(json.dumps({"items": items}, indent=2) + "\n")
    elif args.output == "yaml":
        sys.stdout.write(yaml.safe_dump({"items": items}, sort_keys=False))
    else:
        sys.stdout.write(format_table(items))
    return 0


async def _remove(args: argparse.Namespace) -> int:
    path = f"{_cluster_path(args.namespace)}/{args.name}"
    async with _hub(args) as hub:
        try:
            obj = await request_json(hub, "GET", path, timeout=TIMEOUT)
        except NotFound:
            raise CliError(f"cluster {args.name} not found in {args.namespace}") from None
        await request_json(hub, "DELETE", path, timeout=TIMEOUT)
        secret = ((obj.get("spec") or {}).get("secretRef") or {}).get("name")
        if secret:
            secret_path = f"/api/v1/namespaces/{args.namespace}/secrets/{secret}"
            try:
                stored = await request_json(hub, "GET", secret_path, timeout=TIMEOUT)
                labels = (stored.get("metadata") or {}).get("labels") or {}
                if labels.get(CLUSTER_LABEL) == args.name:  # only what `add` created
                    await request_json(hub, "DELETE", secret_path, timeout=TIMEOUT)
            except NotFound:
                pass
    print(f"cluster {args.name} removed")
    return 0


def run_command(command: str, args: argparse.Namespace) -> int:
    """Run `fleet cluster COMMAND` (parsed by fleet.clusters.commands)."""
    handler = {"add": _add, "list": _list, "remove": _remove}[command]
    code: int = _handler(handler)(args)
    return code
