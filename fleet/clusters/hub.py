"""The hub's client, for every command and the controller: from a kubeconfig, or in-cluster.

Order (as kubectl and client-go): an explicit `--hub-kubeconfig`; else `$KUBECONFIG` (first
entry); else, inside a Pod, the ServiceAccount token and CA mounted by Kubernetes; else
`~/.kube/config`. The in-cluster token is re-read on every request, since kubelet rotates it.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
from kubernetes_asyncio.client import ApiClient

from fleet.clusters.credentials import (
    OPERATOR_EXEC,
    CredentialsError,
    ExecProvider,
    parse_kubeconfig,
    to_credentials,
)
from fleet.kube import Credentials, build_api_client

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def _in_cluster() -> ApiClient | None:
    host, port = (
        os.environ.get("KUBERNETES_SERVICE_HOST"),
        os.environ.get("KUBERNETES_SERVICE_PORT", "443"),
    )
    token_file = SERVICE_ACCOUNT_DIR / "token"
    if not host or not token_file.exists():
        return None

    async def token() -> str:
        return (await anyio.Path(token_file).read_text()).strip()

    host = f"[{host}]" if ":" in host else host
    return build_api_client(
        Credentials(
            server=f"https://{host}:{port}",
            ca_pem=(SERVICE_ACCOUNT_DIR / "ca.crt").read_bytes(),
            token_source=token,
        )
    )


def hub_client(kubeconfig: Path | None = None, context: str | None = None) -> ApiClient:
    """Raises CredentialsError naming the file when it cannot be read or used."""
    path = kubeconfig
    if path is None:
        env = os.environ.get("KUBECONFIG", "")
        if env:
            path = Path(env.split(os.pathsep)[0])
        else:
            api = _in_cluster()
            if api is not None:
                return api
            path = Path.home() / ".kube" / "config"
    try:
        text = path.read_text()
    except OSError as exc:
        raise CredentialsError(f"{path}: {exc.strerror}") from None
    # the operator's own kubeconfig (not hub input): its files and exec plugin are used as
    # kubectl would use them
    creds = parse_kubeconfig(text, context, where=str(path), allow_files=True)
    if not creds.server:
        raise CredentialsError(f"{path}: the kubeconfig context has no server")
    provider = ExecProvider(creds.exec, policy=OPERATOR_EXEC) if creds.exec else None
    return build_api_client(to_credentials(creds, creds.server, exec_provider=provider))
