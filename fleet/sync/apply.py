"""Writes to a cluster: server-side apply (real or dry-run), replace (PUT), create, delete.

Field manager `fleet`, `force=true`: like Argo CD's ServerSideApply (`--force-conflicts`), Git is
the source of truth for the fields fleet sets, so a field another manager took over (a manual
`kubectl edit`) is taken back instead of failing the sync with a 409. Fields fleet does not set
stay with their managers. The apply body is JSON, which is valid YAML for
`application/apply-patch+yaml`. Every call goes through `fleet.kube.request_json` (bounded, typed
errors).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio.client import ApiClient

from fleet.kube import Conflict, Forbidden, NotFound, request_json
from fleet.sync.discovery import Resource

FIELD_MANAGER = "fleet"
Obj = dict[str, Any]


@dataclass(frozen=True)
class ApplyOptions:
    force: bool = True
    validate: bool = True
    replace: bool = False
    timeout: float = 10.0


def _names(obj: Obj) -> tuple[str, str | None]:
    meta = obj.get("metadata") or {}
    return str(meta.get("name", "")), meta.get("namespace") or None


async def get(api: ApiClient, res: Resource, obj: Obj, *, timeout: float = 10.0) -> Obj | None:
    name, ns = _names(obj)
    try:
        live: Obj = await request_json(api, "GET", res.item(name, ns), timeout=timeout)
    except NotFound:
        return None
    return live


async def create_if_absent(api: ApiClient, res: Resource, obj: Obj, opts: ApplyOptions) -> bool:
    """POST `obj`; False when it exists already (one request either way, where a GET and then
    a create would take two to create). Refused the create (403), a GET decides."""
    _, ns = _names(obj)
    try:
        await request_json(
            api,
            "POST",
            res.collection(ns),
            body=obj,
            query={"fieldManager": FIELD_MANAGER},
            timeout=opts.timeout,
        )
    except Conflict:  # AlreadyExists (a Namespace being deleted is one too)
        return False
    except Forbidden:
        # Credentials that may not create it may still read it: one that exists is no error.
        if await get(api, res, obj, timeout=opts.timeout) is not None:
            return False
        raise
    return True


async def server_side_apply(
    api: ApiClient, res: Resource, obj: Obj, opts: ApplyOptions, *, dry_run: bool = False
) -> Obj:
    name, ns = _names(obj)
    query = {"fieldManager": FIELD_MANAGER, "force": "true" if opts.force else "false"}
    query["fieldValidation"] = "Strict" if opts.validate else "Ignore"
    if dry_run:
        query["dryRun"] = "All"
    result: Obj = await request_json(
        api,
        "PATCH",
        res.item(name, ns),
        body=obj,
        query=query,
        content_type="application/apply-patch+yaml",
        timeout=opts.timeout,
    )
    return result


async def replace(
    api: ApiClient,
    res: Resource,
    obj: Obj,
    live: Obj | None,
    opts: ApplyOptions,
    *,
    dry_run: bool = False,
) -> Obj:
    """`Replace=true`: PUT the whole object (POST when absent), as `kubectl replace` does."""
    name, ns = _names(obj)
    query = {"fieldManager": FIELD_MANAGER}
    query["fieldValidation"] = "Strict" if opts.validate else "Ignore"
    if dry_run:
        query["dryRun"] = "All"
    if live is None:
        created: Obj = await request_json(
            api,
            "POST",
            res.collection(ns),
            body=obj,
            query=query,
            timeout=opts.timeout,
        )
        return created
    body = json.loads(json.dumps(obj))
    body.setdefault("metadata", {})["resourceVersion"] = live["metadata"]["resourceVersion"]
    replaced: Obj = await request_json(
        api, "PUT", res.item(name, ns), body=body, query=query, timeout=opts.timeout
    )
    return replaced


async def delete(
    api: ApiClient,
    res: Resource,
    obj: Obj,
    *,
    propagation: str = "Foreground",
    timeout: float = 10.0,
) -> None:
    name, ns = _names(obj)
    uid = (obj.get("metadata") or {}).get("uid")
    body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
    if uid:
        body["preconditions"] = {"uid": uid}  # never delete a newer object of the same name
    with contextlib.suppress(NotFound):  # already gone: the goal is reached
        await request_json(api, "DELETE", res.item(name, ns), body=body, timeout=timeout)
