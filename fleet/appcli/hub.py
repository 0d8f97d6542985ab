"""The hub side of `fleet app`: a client from a kubeconfig and reads of Applications.

Every call is bounded (`fleet.kube.request_json` timeouts) and every failure comes out as a
`CliError` with one line that says what failed where (never a response body: those may hold
credentials).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubernetes_asyncio.client import ApiClient

from fleet.api.group import FLEET, ApiFlavour, flavour
from fleet.appcli.errors import EXIT_BAD_INPUT, EXIT_FAILED, AppNotFound, CliError
from fleet.clusters.credentials import CredentialsError
from fleet.clusters.hub import hub_client as shared_hub_client
from fleet.kube import KubeError, NotFound, Unreachable, request_json

TIMEOUT = 15.0

_api: ApiFlavour = FLEET


def use_api(name: str) -> ApiFlavour:
    """Select whose Applications this `fleet app` invocation reads (`--api`). One process runs
    one command, so the choice is kept here instead of being passed through every call."""
    global _api
    _api = flavour(name)
    return _api


def api() -> ApiFlavour:
    """The flavour `use_api` selected (fleet's by default)."""
    return _api


def hub_client(kubeconfig: Path | None, context: str | None) -> ApiClient:
    """A client for the hub (`fleet.clusters.hub`: --hub-kubeconfig, $KUBECONFIG, in-cluster,
    ~/.kube/config); call inside the event loop and close it with `async with`."""
    try:
        return shared_hub_client(kubeconfig, context)
    except CredentialsError as error:
        raise CliError(str(error), EXIT_BAD_INPUT) from None


def hub_error(error: KubeError, what: str = "") -> CliError:
    """One line for a failed hub call: unreachable, or the server's reason and message."""
    if isinstance(error, Unreachable):
        return CliError(f"hub unreachable: {error.message}", EXIT_FAILED)
    prefix = f"{what}: " if what else ""
    return CliError(f"{prefix}{error.reason}: {error.message}", EXIT_FAILED)


async def get_application(hub: ApiClient, namespace: str, name: str) -> dict[str, Any]:
    try:
        obj: dict[str, Any] = await request_json(
            hub, "GET", _api.application.item(namespace, name), timeout=TIMEOUT
        )
    except NotFound:
        raise AppNotFound(f"application {name!r} not found in namespace {namespace}") from None
    except KubeError as error:
        raise hub_error(error, f"application {name!r}") from None
    return obj


async def list_applications(
    hub: ApiClient, namespace: str, selector: str | None = None
) -> list[dict[str, Any]]:
    query = {"labelSelector": selector} if selector else None
    try:
        listing = await request_json(
            hub, "GET", _api.application.collection(namespace), query=query, timeout=TIMEOUT
        )
    except NotFound:
        raise CliError(
            f"the hub does not serve {_api.group} Applications (are the CRDs installed? see --api)",
            EXIT_FAILED,
        ) from None
    except KubeError as error:
        raise hub_error(error, "list applications") from None
    items = list((listing or {}).get("items") or [])
    return sorted(items, key=lambda o: str(o.get("metadata", {}).get("name", "")))


async def patch_application(
    hub: ApiClient, namespace: str, name: str, patch: Mapping[str, Any]
) -> dict[str, Any]:
    """A JSON merge patch of the Application (KubeError propagates: callers branch on 409)."""
    obj: dict[str, Any] = await request_json(
        hub,
        "PATCH",
        _api.application.item(namespace, name),
        body=dict(patch),
        content_type="application/merge-patch+json",
        timeout=TIMEOUT,
    )
    return obj


def without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as printed by `-o yaml|json` (kubectl hides managedFields too)."""
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta.pop("managedFields", None)
    out["metadata"] = meta
    return out
