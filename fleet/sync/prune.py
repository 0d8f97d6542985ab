"""Which live objects leave with Git, and deleting them safely.

Safety rules: only objects whose tracking *annotation* names this Application and the object
itself are candidates (a copied label is not ownership); `Prune=false` on the live object keeps
it (reported OutOfSync, as Argo CD does); an empty render prunes nothing unless allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from kubernetes_asyncio.client import ApiClient

from fleet.kube import NotFound, request_json
from fleet.sync.discovery import Resource
from fleet.sync.inventory import Key, key_of
from fleet.sync.tracking import (
    ARGOCD_LABEL,
    LABEL,
    SYNC_OPTIONS,
    AppRef,
    argocd_instance_label,
    options,
    owned_by,
)

Obj = dict[str, Any]


LiveCache = Callable[[Resource], "list[Obj] | None"]
"""The Application's live objects of one resource type as a watch already knows them, or None
(not watched): what a LIST would return, without the request."""


async def list_owned(
    api: ApiClient,
    app: AppRef,
    resources: Iterable[Resource],
    *,
    timeout: float = 10.0,
    cache: LiveCache | None = None,
    inventory: Iterable[Key] = (),
) -> dict[Key, tuple[Resource, Obj]]:
    """Every live object of these resource types that this Application owns.

    In Argo CD mode (`app.argocd_instance`), also what Argo CD deployed for it and fleet has
    not applied yet: `inventory` (the keys in the Application's `status.resources`, which
    Argo CD kept too) is looked up one by one when the labelled list did not return it, and
    with label tracking objects carrying Argo CD's instance label are listed as well.
    """
    resources = list(resources)
    out: dict[Key, tuple[Resource, Obj]] = {}
    if app.argocd_instance:
        await _adopt_argocd(api, app, resources, inventory, out, timeout)
    for res in resources:
        items = cache(res) if cache is not None else None
        if items is None:
            data: Any = await request_json(
                api,
                "GET",
                res.collection(),
                query={"labelSelector": f"{LABEL}={app.label_value}"},
                timeout=timeout,
            )
            items = (data or {}).get("items") or []
        for item in items:
            item.setdefault("apiVersion", res.api_version)
            item.setdefault("kind", res.kind)
            if (item.get("metadata") or {}).get("deletionTimestamp"):
                continue  # already being deleted (foreground prune waits for dependants)
            if owned_by(app, item):
                out[key_of(item)] = (res, item)
    return out


def keeps(live: Obj) -> bool:
    """`argocd.argoproj.io/sync-options: Prune=false` on the live object."""
    return "Prune=false" in options(live, SYNC_OPTIONS)


def propagation(sync_options: Iterable[str]) -> str:
    for opt in sync_options:
        if opt.startswith("PrunePropagationPolicy="):
            value = opt.split("=", 1)[1].lower()
            return {"foreground": "Foreground", "background": "Background", "orphan": "Orphan"}.get(
                value, "Foreground"
            )
    return "Foreground"


async def _adopt_argocd(
    api: ApiClient,
    app: AppRef,
    resources: list[Resource],
    inventory: Iterable[Key],
    out: dict[Key, tuple[Resource, Obj]],
    timeout: float,
) -> None:
    """Objects carrying Argo CD's marks for `app` (and not yet fleet's): see `list_owned`."""

    def keep(res: Resource, item: Obj) -> None:
        item.setdefault("apiVersion", res.api_version)
        item.setdefault("kind", res.kind)
        meta = item.get("metadata") or {}
        if meta.get("deletionTimestamp") or LABEL in (meta.get("labels") or {}):
            return  # being deleted, or fleet's own list below finds it
        if owned_by(app, item):
            out[key_of(item)] = (res, item)

    by_kind = {(res.group, res.kind): res for res in resources}
    if app.argocd_label_tracking:
        selector = f"{ARGOCD_LABEL}={argocd_instance_label(app)}"
        for res in resources:
            data: Any = await request_json(
                api, "GET", res.collection(), query={"labelSelector": selector}, timeout=timeout
            )
            for item in (data or {}).get("items") or []:
                keep(res, item)
    for key in inventory:
        group, kind, namespace, name = key
        found = by_kind.get((group, kind))
        if found is None or key in out:
            continue
        try:
            item = await request_json(
                api, "GET", found.item(name, namespace or None), timeout=timeout
            )
        except NotFound:
            continue
        keep(found, item)
