"""Minimal OpenAPI v3 documents, enough for kubectl to use server-side field validation.

kubectl asks `/openapi/v3` whether PATCH of a kind accepts `fieldValidation` before it sends
apply and create requests; without an answer it falls back to downloading the full OpenAPI v2
schema and fails. Each group-version document lists, per resource, the item path with a PATCH
operation tagged with its group/version/kind and the `fieldValidation` parameter; schemas are
left out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from fleet.sim.kinds import ResourceType

JSON = dict[str, Any]

_PARAMS = [
    {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for name in ("dryRun", "fieldManager", "fieldValidation", "force")
]


def _gv_path(rt: ResourceType) -> str:
    return f"apis/{rt.group}/{rt.version}" if rt.group else "api/v1"


def gv_document(types: Iterable[ResourceType]) -> bytes:
    paths: JSON = {}
    for rt in types:
        base = "/" + _gv_path(rt)
        scope = "/namespaces/{namespace}" if rt.namespaced else ""
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        patch = {
            "operationId": f"patch{rt.kind}",
            "parameters": _PARAMS,
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
        }
        paths[f"{base}{scope}/{rt.resource}/{{name}}"] = {"patch": patch}
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {},
    }
    return json.dumps(doc, separators=(",", ":")).encode()


class OpenAPIDocuments:
    """The root index and one document per group-version, serialized once."""

    def __init__(self, types: Iterable[ResourceType]) -> None:
        by_gv: dict[str, list[ResourceType]] = {}
        for rt in types:
            by_gv.setdefault(_gv_path(rt), []).append(rt)
        self.documents = {gv: gv_document(members) for gv, members in by_gv.items()}
        index = {
            gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={_hash(body)}"}
            for gv, body in self.documents.items()
        }
        self.root = json.dumps({"paths": index}, separators=(",", ":")).encode()


def _hash(body: bytes) -> str:
    return hashlib.sha512(body).hexdigest()[:128].upper()
