"""Which live objects leave with Git, and deleting them safely.

Safety rules: only objects whose tracking *annotation* names this Application and the object
itself are candidates (a copied label is not ownership); `Prune=false` on the live object keeps
it (reported OutOfSync, as Argo CD does); an empty render prunes nothing unless allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from kubernetes_asyncio.client import ApiClient

from fleet.kube import request_json
from fleet.sync.discovery import Resource
from fleet.sync.inventory import Key, key_of
from fleet.sync.tracking import LABEL, SYNC_OPTIONS, AppRef, options, owned_by

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
) -> dict[Key, tuple[Resource, Obj]]:
    """Every live object of these resource types that this Application owns."""
    out: dict[Key, tuple[Resource, Obj]] = {}
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
