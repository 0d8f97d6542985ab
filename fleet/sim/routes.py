"""Kubernetes REST paths of one cluster mapped onto `ClusterAPI` verbs.

Paths are parsed by hand instead of registering aiohttp routes per resource: CRDs add and
remove resources at run time, and one catch-all route keeps the router tiny for 1,000 clusters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from fleet.sim import errors, protobuf, scale, tables, watch
from fleet.sim.api import ClusterAPI, WriteOptions, decode_body
from fleet.sim.auth import READ_VERBS, Role, user_of
from fleet.sim.discovery import api_versions
from fleet.sim.errors import ApiError
from fleet.sim.jsonutil import dumps
from fleet.sim.kinds import NAMESPACES, ResourceType
from fleet.sim.openapi import (
    V2_PROTOBUF_CONTENT_TYPE,
    OpenAPIDocuments,
    negotiate_v2,
    schema_hash,
)
from fleet.sim.patch import APPLY_PATCH
from fleet.sim.selectors import parse_field_selector, parse_label_selector, selectable_fields

if TYPE_CHECKING:
    from fleet.sim.cluster import SimCluster

JSON = dict[str, Any]
_JSON_TYPE = "application/json"
_WRITE_METHODS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def json_response(code: int, body: JSON, warnings: list[str] | None = None) -> web.Response:
    response = web.Response(
        status=code,
        body=dumps(body),
        content_type=_JSON_TYPE,
    )
    for warning in warnings or ():
        response.headers.add("Warning", f"299 - {json.dumps(warning)}")
    return response


def raw_response(body: bytes) -> web.Response:
    return web.Response(body=body, content_type=_JSON_TYPE)


def error_response(error: ApiError) -> web.Response:
    return json_response(error.code, error.status())


def _manager(request: web.Request) -> str:
    given = request.query.get("fieldManager", "")
    if given:
        return given
    agent = request.headers.get("User-Agent", "")
    return agent.split("/", 1)[0] if agent else "unknown"


def _dry_run(query: Mapping[str, str]) -> bool:
    values = query.getall("dryRun", []) if hasattr(query, "getall") else []
    for value in values:
        if value != "All":
            raise errors.bad_request(f"Invalid dry run value: {value!r}, must be 'All'")
    return bool(values)


class Target:
    """A parsed resource path: type, namespace, name and subresource."""

    __slots__ = ("name", "namespace", "rt", "subresource")

    def __init__(self, rt: ResourceType, namespace: str | None, name: str, subresource: str):
        self.rt = rt
        self.namespace = namespace
        self.name = name
        self.subresource = subresource


def _parse_target(cluster: SimCluster, group: str, version: str, segments: list[str]) -> Target:
    namespace: str | None = None
    if (
        segments[0] == "namespaces"
        and len(segments) >= 3
        and segments[2]
        not in (
            "status",
            "finalize",
        )
    ):
        namespace, segments = segments[1], segments[2:]
    if len(segments) > 3 or not all(segments):
        raise errors.resource_not_found()
    rt = cluster.state.registry.lookup(group, version, segments[0])
    if rt is None:
        raise errors.resource_not_found()
    name = segments[1] if len(segments) > 1 else ""
    sub = segments[2] if len(segments) > 2 else ""
    if namespace is not None and not rt.namespaced:
        raise errors.resource_not_found()
    if rt.namespaced and namespace is None and name:
        raise errors.resource_not_found()
    if (
        sub
        and not (sub == "status" and rt.has_status)
        and not (sub == "scale" and rt.scale)
        and not (rt is NAMESPACES and sub == "finalize")
    ):
        raise errors.resource_not_found()
    return Target(rt, namespace, name, sub)


def _verb(method: str, target: Target, query: Mapping[str, str]) -> str:
    if method == "GET":
        if target.name:
            return "get"
        return "watch" if query.get("watch", "").lower() in ("true", "1") else "list"
    if method == "DELETE" and not target.name:
        return "deletecollection"
    if (method == "POST" and target.name) or (method in ("PUT", "PATCH") and not target.name):
        raise ApiError(405, "the server does not allow this method on the requested resource")
    verb = _WRITE_METHODS.get(method)
    if verb is None:
        raise ApiError(405, "the server does not allow this method on the requested resource")
    return verb


def _forbidden(role: Role, verb: str, target: Target) -> ApiError:
    rt = target.rt
    what = errors.qualified(rt.resource, rt.group)
    subject = f'{what} "{target.name}"' if target.name else what
    scope = f' in the namespace "{target.namespace}"' if target.namespace else ""
    resource = f"{rt.resource}/{target.subresource}" if target.subresource else rt.resource
    details: JSON = {}
    if target.name:
        details["name"] = target.name
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.resource
    return ApiError(
        403,
        f'{subject} is forbidden: User "{user_of(role)}" cannot {verb} resource "{resource}" '
        f'in API group "{rt.group}"{scope}',
        details=details,
    )


async def dispatch(
    cluster: SimCluster, role: Role, request: web.Request, tail: str
) -> web.StreamResponse:
    segments = [s for s in tail.split("/") if s] if tail else []
    state = cluster.state
    docs = state.registry.documents()
    if request.method == "GET":
        if segments in (["version"], ["version", ""]):
            return raw_response(state.registry.profile.version_body)
        if segments == ["api"]:
            return raw_response(api_versions(cluster.address))
        if segments == ["api", "v1"]:
            return raw_response(docs.resource_lists["v1"])
        if segments == ["apis"]:
            return raw_response(docs.group_list)
        if len(segments) == 2 and segments[0] == "apis":
            body = docs.groups.get(segments[1])
            if body is None:
                raise errors.resource_not_found()
            return raw_response(body)
        if len(segments) == 3 and segments[0] == "apis":
            body = docs.resource_lists.get(f"{segments[1]}/{segments[2]}")
            if body is None:
                raise errors.resource_not_found()
            return raw_response(body)
        if segments[:1] == ["openapi"]:
            return await _serve_openapi(request, segments, docs.openapi)
        if segments and segments[0] in ("healthz", "livez", "readyz"):
            return web.Response(text="ok", content_type="text/plain")
    if len(segments) >= 3 and segments[:2] == ["api", "v1"]:
        target = _parse_target(cluster, "", "v1", segments[2:])
    elif len(segments) >= 4 and segments[0] == "apis":
        target = _parse_target(cluster, segments[1], segments[2], segments[3:])
    else:
        raise errors.resource_not_found()
    verb = _verb(request.method, target, request.query)
    if not target.subresource and verb not in target.rt.verbs:
        raise ApiError(405, "the server does not allow this method on the requested resource")
    if role != "admin" and verb not in READ_VERBS:
        raise _forbidden(role, verb, target)
    return await _serve(cluster, request, target, verb)


class _Discarded(list[str]):
    """A warnings list that keeps nothing (fieldValidation=Ignore)."""

    def append(self, item: str) -> None:
        pass

    def extend(self, items: Iterable[str]) -> None:
        pass


_DISCARDED = _Discarded()
_NOT_ACCEPTABLE = ApiError(406, "only the following media types are accepted: application/json")


async def _serve_openapi(
    request: web.Request, segments: list[str], openapi: OpenAPIDocuments
) -> web.StreamResponse:
    """`/openapi/v2` (JSON or protobuf, by Accept), `/openapi/v3` and its documents."""
    if segments == ["openapi", "v2"]:
        chosen = negotiate_v2(request.headers.get("Accept", ""))
        if chosen is None:
            raise ApiError(
                406,
                "only the following media types are accepted: application/json, "
                + V2_PROTOBUF_CONTENT_TYPE,
            )
        if chosen == "protobuf":
            chunks, content_type = openapi.v2_proto_chunks(), V2_PROTOBUF_CONTENT_TYPE
        else:
            chunks, content_type = openapi.v2_json_chunks(), _JSON_TYPE
        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.content_length = sum(len(c) for c in chunks)
        await response.prepare(request)
        for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
        return response
    if segments == ["openapi", "v3"]:
        return web.Response(body=openapi.root, content_type="text/plain", charset="utf-8")
    if segments[:2] == ["openapi", "v3"] and len(segments) > 2:
        body = openapi.documents.get("/".join(segments[2:]))
        if body is None:
            return web.Response(status=404)
        accept = request.headers.get("Accept", "")
        if accept and "json" not in accept and "*/*" not in accept:
            raise _NOT_ACCEPTABLE  # protobuf v3 documents are not served
        digest = schema_hash(body)
        headers = {"Etag": f'"{digest}"', "Vary": "Accept"}
        if request.query.get("hash") == digest:
            headers["Cache-Control"] = "public, immutable"
        else:
            headers["Cache-Control"] = "no-cache, private"
        return web.Response(body=body, content_type=_JSON_TYPE, headers=headers)
    raise errors.resource_not_found()


async def _serve(
    cluster: SimCluster, request: web.Request, target: Target, verb: str
) -> web.StreamResponse:
    api = cluster.state.api
    rt, ns, name, query = target.rt, target.namespace or "", target.name, request.query
    as_table = tables.wants_table(request.headers.get("Accept", ""))
    include = query.get("includeObject", "")
    if target.subresource == "scale":
        return await _serve_scale(api, request, target, verb)
    if verb == "get":
        obj = api.get(rt, ns, name)
        if as_table:
            list_meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
            return json_response(200, tables.table(rt, [obj], list_meta, include))
        return json_response(200, obj)
    if verb == "watch":
        return await watch.serve_watch(
            request, api, rt, target.namespace, bookmark_interval=cluster.bookmark_interval
        )
    labels = parse_label_selector(query.get("labelSelector"))
    fields = parse_field_selector(
        query.get("fieldSelector"), selectable_fields(rt.group, rt.resource)
    )
    if verb == "list":
        try:
            limit = int(query.get("limit") or 0)
        except ValueError:
            raise errors.bad_request("limit must be an integer") from None
        body = api.list(
            rt,
            target.namespace,
            labels,
            fields,
            limit=limit,
            continue_token=query.get("continue", ""),
        )
        if as_table:
            return json_response(200, tables.table(rt, body["items"], body["metadata"], include))
        return json_response(200, body)
    raw = await request.read()
    dry_run = _dry_run(query)
    if verb in ("delete", "deletecollection"):
        options: JSON = decode_body(raw) if raw.strip() else {}
        if not isinstance(options, dict):
            raise errors.bad_request("DeleteOptions must be an object")
        if query.get("propagationPolicy"):
            options["propagationPolicy"] = query["propagationPolicy"]
        if verb == "delete":
            code, result = api.delete(rt, ns, name, options, dry_run=dry_run)
            return json_response(code, result)
        listed = api.delete_collection(
            rt, target.namespace, labels, fields, options, dry_run=dry_run
        )
        return json_response(200, listed)
    content_type = request.content_type
    is_apply = verb == "patch" and content_type == APPLY_PATCH
    opts = WriteOptions(
        # apply needs an explicit fieldManager; other writes default to the user agent
        manager=query.get("fieldManager", "") if is_apply else _manager(request),
        dry_run=dry_run,
        force=query.get("force", "").lower() in ("true", "1"),
        subresource=target.subresource,
        strict=query.get("fieldValidation", "") == "Strict",
    )
    if query.get("fieldValidation", "") == "Ignore":
        opts.warnings = _DISCARDED  # unknown fields are dropped without a Warning header
    if verb == "patch":
        code, result = api.patch(rt, ns, name, content_type, raw, opts)
        return json_response(code, result, opts.warnings)
    if content_type == protobuf.CONTENT_TYPE:
        return await _create_or_update(api, verb, rt, ns, name, protobuf.decode(raw), opts)
    if "protobuf" in content_type or "cbor" in content_type:
        raise ApiError(
            415,
            "the body of the request was in an unknown format - accepted "
            "media types include: application/json, application/yaml",
        )
    body = decode_body(raw, yaml_ok="yaml" in content_type)
    return await _create_or_update(api, verb, rt, ns, name, body, opts)


async def _create_or_update(
    api: ClusterAPI,
    verb: str,
    rt: ResourceType,
    ns: str,
    name: str,
    body: Any,
    opts: WriteOptions,
) -> web.StreamResponse:
    if verb == "create":
        code, result = api.create(rt, ns, body, opts)
    else:
        code, result = api.update(rt, ns, name, body, opts)
    return json_response(code, result, opts.warnings)


async def _serve_scale(
    api: ClusterAPI, request: web.Request, target: Target, verb: str
) -> web.StreamResponse:
    rt, ns, name = target.rt, target.namespace or "", target.name
    if verb == "get":
        return json_response(200, scale.get_scale(api, rt, ns, name))
    if verb not in ("update", "patch"):
        raise ApiError(405, "the server does not allow this method on the requested resource")
    opts = WriteOptions(manager=_manager(request), dry_run=_dry_run(request.query))
    code, body = scale.write_scale(
        api,
        rt,
        ns,
        name,
        request.content_type,
        await request.read(),
        opts,
        is_patch=verb == "patch",
    )
    return json_response(code, body)
