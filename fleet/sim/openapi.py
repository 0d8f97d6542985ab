"""OpenAPI v2 and v3 documents: the real kube-apiserver's, cut to what a cluster serves, plus the
ones of its CRDs, made the way the real server makes them.

Clients need real documents: kubectl asks `/openapi/v3/<group-version>` whether PATCH accepts
`fieldValidation` before every apply, `kubectl explain` reads the schemas (and their
`x-kubernetes-group-version-kind`), and client-go's `OpenAPISchema()` (Argo CD, kubectl's v2
paths) reads `/openapi/v2` as protobuf. The built-in documents are kube-apiserver v1.36.3's,
captured into `data/kube-1.36/` (see its README.md); paths of resources and subresources the
cluster does not serve are left out (so `kubectl explain` and client-side checks see what the
cluster serves), components and definitions are kept whole.

A CRD's documents come from the captured documents of two template CRDs (one namespaced, one
cluster-scoped): the template's paths with the names replaced, its List schema likewise, and
the CRD version's `openAPIV3Schema` with `apiVersion`, `kind`, `metadata` and the
`x-kubernetes-group-version-kind` extension added, converted to v2 for `/openapi/v2` as the
server does (`nullable`, `oneOf`/`anyOf`/`not` and CEL rules dropped).

Everything is built lazily: the profile's documents once per process, a cluster's CRD documents
when first asked for after its CRDs changed. `/openapi/v2` bodies are sent as chunks (the
profile's shared bytes with the cluster's CRD parts spliced in), so a cluster with CRDs does
not hold its own copy of the 2 MB document.
"""

from __future__ import annotations

import copy
import functools
import gzip
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from fleet.sim import openapi_pb

if TYPE_CHECKING:
    from fleet.sim.kinds import ResourceType
    from fleet.sim.profile import Profile

JSON = dict[str, Any]

V2_PROTOBUF_TYPES = (
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
)
V2_PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_SCALE = "io.k8s.api.autoscaling.v1.Scale"


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _data(name: str) -> bytes:
    from fleet.sim.profile import DATA_DIR

    return gzip.decompress((DATA_DIR / name).read_bytes())


@functools.cache
def _v3_files() -> dict[str, str]:
    from fleet.sim.profile import DATA_DIR

    index: dict[str, str] = json.loads((DATA_DIR / "openapi-v3" / "index.json").read_text())
    return index


def captured_v3(path: str) -> JSON:
    """The real server's `/openapi/v3/<path>` document, parsed afresh (not kept: all of them
    parsed would hold some 50 MB; callers keep what they derive)."""
    doc: JSON = json.loads(_data("openapi-v3/" + _v3_files()[path]))
    return doc


@functools.cache
def _templates() -> JSON:
    data: JSON = json.loads(_data("crd-templates.json.gz"))
    return data


def schema_hash(body: bytes) -> str:
    """The hash kube-apiserver puts in `/openapi/v3` URLs (SHA-512, upper-case hex)."""
    return hashlib.sha512(body).hexdigest().upper()


# -- which paths a cluster serves ---------------------------------------------------------------


def _parse(path: str) -> tuple[str, str, list[str]] | None:
    """(group, version, rest) of an API path, or None for a path outside /api and /apis."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        return "", "v1", parts[2:]
    if parts and parts[0] == "apis" and len(parts) >= 3:
        return parts[1], parts[2], parts[3:]
    return None


class ServedPaths:
    """Whether a cluster with these types serves a path of an OpenAPI document."""

    def __init__(self, types: Iterable[ResourceType]) -> None:
        self.by_gvr = {(t.group, t.version, t.resource): t for t in types}
        self.group_versions = {(t.group, t.version) for t in self.by_gvr.values()}
        self.groups = {t.group for t in self.by_gvr.values()}

    def __call__(self, path: str) -> bool:
        parsed = _parse(path)
        if parsed is None:
            parts = [p for p in path.split("/") if p]
            if parts[:1] == ["apis"] and len(parts) == 2:  # /apis/<group>/
                return parts[1] in self.groups
            return True  # /api/, /apis/, /version/, /.well-known/..., /openid/...
        group, version, rest = parsed
        if not rest:  # the group-version's resource list
            return (group, version) in self.group_versions
        if rest[0] == "watch":  # deprecated watch paths: the simulator serves ?watch=true only
            return False
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[1] == "{namespace}":
            rest = rest[2:]
        rt = self.by_gvr.get((group, version, rest[0]))
        if rt is None:
            return False
        sub = rest[2] if len(rest) > 2 else ""
        return (
            not sub
            or (sub == "status" and rt.has_status)
            or (sub == "scale" and rt.scale is not None)
            or (sub == "finalize" and rt.gr == "namespaces.")
        )


# -- the profile's documents --------------------------------------------------------------------


class BaseDocuments:
    """A profile's OpenAPI documents, cut from the captured ones; built once per process."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self._served = ServedPaths(profile.types)
        self._v3: dict[str, bytes] | None = None
        self._v2_json: tuple[bytes, bytes, bytes] | None = None
        self._v2_proto: bytes | None = None

    def v3(self) -> dict[str, bytes]:
        """path -> serialized document, for every document with a served path."""
        if self._v3 is None:
            out: dict[str, bytes] = {}
            for path in _v3_files():
                doc = captured_v3(path)
                paths = {p: item for p, item in doc.get("paths", {}).items() if self._served(p)}
                if not paths and doc.get("paths"):
                    continue
                out[path] = _dumps({**doc, "paths": paths})
            self._v3 = out
        return self._v3

    def v2_json(self) -> tuple[bytes, bytes, bytes]:
        """The v2 JSON document in three parts: up to the last path item, then up to the last
        definition, then the closing braces (CRD paths and definitions go in between)."""
        if self._v2_json is None:
            doc = json.loads(_data("openapi-v2.json.gz"))
            paths = {p: item for p, item in doc.pop("paths").items() if self._served(p)}
            definitions = doc.pop("definitions")
            head = _dumps(doc)[:-1] + b',"paths":' + _dumps(paths)[:-1]
            middle = b'},"definitions":' + _dumps(definitions)[:-1]
            self._v2_json = (head, middle, b"}}")
        return self._v2_json

    def v2_proto(self) -> bytes:
        if self._v2_proto is None:
            self._v2_proto = openapi_pb.filter_paths(_data("openapi-v2.pb.gz"), self._served)
        return self._v2_proto


@functools.cache
def base_documents(profile: Profile) -> BaseDocuments:
    return BaseDocuments(profile)


# -- CRD documents ------------------------------------------------------------------------------


def operation_id(name: str, capitalize: bool) -> str:
    """kube-openapi's ToValidOperationID: separators dropped, the next letter upper-cased."""
    out = []
    upper = capitalize
    for i, char in enumerate(name):
        if char.isalpha() or char == "_" or (i and char.isdigit()):
            out.append(char.upper() if upper else char)
            upper = False
        else:
            upper = True
    return "".join(out)


def _trimmed(group: str) -> str:
    """Operation ids and tags leave out a group's `.k8s.io` (`gatewayNetworking_v1`)."""
    return group.removesuffix(".k8s.io")


def _reversed_group(group: str) -> str:
    return ".".join(reversed(group.split(".")))


def definition_name(group: str, version: str, kind: str) -> str:
    """The component (v3) and definition (v2) name of a CRD kind: `dev.gitops.fleet.v1.App`."""
    return f"{_reversed_group(group)}.{version}.{kind}"


def _article(noun: str) -> str:
    """apiserver's GetArticleForNoun (padded with spaces): " a ", " an ", or " " for plurals."""
    if noun.endswith("s") and not noun.endswith("ss"):
        return " "
    return " an " if noun[:1].lower() in "aeiou" else " a "


def _substitute(value: Any, rt: ResourceType, template_kind: str) -> Any:
    """A template part with the template CRD's names replaced by `rt`'s."""
    tmpl = _templates()
    group, version = str(tmpl["group"]), str(tmpl["version"])
    text = json.dumps(value)
    for old, new in (
        (_article(template_kind) + template_kind, _article(rt.kind) + template_kind),
        (_reversed_group(group), _reversed_group(rt.group)),
        (group, rt.group),
        (operation_id(group, True), operation_id(_trimmed(rt.group), True)),
        (operation_id(group, False), operation_id(_trimmed(rt.group), False)),
        (operation_id(version, True), operation_id(rt.version, True)),
        (version, rt.version),
        (template_kind.lower() + "s", rt.resource),
        (template_kind, rt.kind),
    ):
        text = text.replace(old, new)
    return json.loads(text)


def _template_kind(rt: ResourceType) -> str:
    kinds: dict[str, str] = _templates()["kinds"]
    return kinds["Namespaced" if rt.namespaced else "Cluster"]


def _template_prefix() -> str:
    tmpl = _templates()
    return definition_name(tmpl["group"], tmpl["version"], "")


def _subresource_kept(path: str, rt: ResourceType) -> bool:
    if path.endswith("/status"):
        return rt.has_status
    if path.endswith("/scale"):
        return rt.scale is not None
    return True


def v3_schema(rt: ResourceType) -> JSON:
    """The component of a CRD version, as kube-apiserver's CRD OpenAPI builder makes it."""
    tmpl_kind = _template_kind(rt)
    template = _templates()["v3"]["components"]["schemas"][_template_prefix() + tmpl_kind]
    return _object_schema(rt, template, v2=False)


def _object_schema(rt: ResourceType, template: Mapping[str, Any], *, v2: bool) -> JSON:
    """The CRD builder's `buildKubeNative`: the structural schema (unfolded; converted to v2
    and without defaults for v2), TypeMeta and ObjectMeta at the root and in embedded
    resources, and the group-version-kind extension."""
    gvk = [{"group": rt.group, "kind": rt.kind, "version": rt.version}]
    if _depth(rt.openapi_schema or {}) > MAX_SCHEMA_DEPTH:
        # published as the real server publishes a schema it cannot use: an untyped object
        return {"type": "object", "x-kubernetes-group-version-kind": gvk}
    source = _unfold(_structural(dict(rt.openapi_schema or {})))
    if v2 and source.get("x-kubernetes-preserve-unknown-fields"):
        return {"type": "object", "x-kubernetes-group-version-kind": gvk}
    if v2:
        source = _prune_defaults(_to_v2(source))
    _embed(source, template, v2=v2)
    properties = dict(source.get("properties") or {})
    for name in ("apiVersion", "kind", "metadata"):
        properties[name] = copy.deepcopy(template["properties"][name])
    out: JSON = {k: v for k, v in source.items() if k not in ("properties", "type")}
    out = {"type": "object", **out, "properties": dict(sorted(properties.items()))}
    out["x-kubernetes-group-version-kind"] = gvk
    return out


#: Schemas nested deeper than this many JSON levels (a CRD embedding a PodSpec reaches about
#: 60) are published without their fields: the recursive conversions below, the protobuf
#: encoder's especially, must stay within Python's stack.
MAX_SCHEMA_DEPTH = 200


def _depth(schema: Mapping[str, Any]) -> int:
    """Nesting depth of a schema, counted without recursion (a client chose the schema)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(schema, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_SCHEMA_DEPTH:
            break
        if isinstance(node, Mapping):
            stack.extend((child, level + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, level + 1) for child in node)
    return deepest


_TRUE_ONLY = frozenset(
    {
        "nullable",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "uniqueItems",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string",
    }
)
_NON_EMPTY = frozenset(
    {"description", "type", "title", "format", "pattern", "required", "x-kubernetes-list-map-keys"}
)
_PRESENT = frozenset(
    {
        "default",
        "example",
        "externalDocs",
        "maximum",
        "minimum",
        "maxLength",
        "minLength",
        "maxItems",
        "minItems",
        "multipleOf",
        "enum",
        "maxProperties",
        "minProperties",
        "x-kubernetes-list-type",
        "x-kubernetes-map-type",
    }
)
_INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]
_EMBEDDED_API_VERSION = (
    "apiVersion defines the versioned schema of this representation of an object. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"
)
_EMBEDDED_KIND = (
    "kind is a string value representing the type of this object. In CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"
    "#types-kinds"
)


def _structural(node: Mapping[str, Any]) -> JSON:
    """A schema node as the structural-schema model keeps it (`NewStructural` then
    `ToKubeOpenAPI`): only the fields it knows, Go's zero values left out."""
    out: JSON = {}
    for key, value in node.items():
        if key in _TRUE_ONLY:
            if value is True:
                out[key] = True
        elif key in _NON_EMPTY:
            if value:
                out[key] = value
        elif key in _PRESENT:
            if value is not None:
                out[key] = value
        elif key in ("allOf", "oneOf", "anyOf"):
            if value:
                out[key] = [_structural(v) for v in value]
        elif key in ("not", "items") and isinstance(value, Mapping):
            out[key] = _structural(value)
        elif key == "properties" and value:
            out[key] = {k: _structural(v) for k, v in value.items()}
        elif key == "additionalProperties":
            out[key] = value if isinstance(value, bool) else _structural(value)
        elif key == "x-kubernetes-validations" and value:
            out[key] = [
                {k: v for k, v in rule.items() if v not in (None, "") or k == "optionalOldSelf"}
                for rule in value
            ]
    return out


def _children(node: JSON) -> list[JSON]:
    out = list((node.get("properties") or {}).values())
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            out.append(node[key])
    return out


def _unfold(node: JSON) -> JSON:
    """`Unfold`: an int-or-string node states its `anyOf: [integer, string]` (in place)."""
    if node.get("x-kubernetes-int-or-string"):
        any_of, all_of = node.get("anyOf"), node.get("allOf")
        if any_of == _INT_OR_STRING or (all_of and all_of[0].get("anyOf") == _INT_OR_STRING):
            pass
        elif not any_of:
            node["anyOf"] = copy.deepcopy(_INT_OR_STRING)
        else:
            node["allOf"] = [{"anyOf": copy.deepcopy(_INT_OR_STRING)}, *(all_of or [])]
    for child in _children(node):
        _unfold(child)
    return node


def _to_v2(node: JSON) -> JSON:
    """`ToStructuralOpenAPIV2` (in place): no junctors; a nullable or unknown-preserving node
    loses what kubectl's v2 code cannot cope with."""
    for key in ("allOf", "oneOf", "anyOf", "not"):
        node.pop(key, None)
    if node.pop("nullable", False):
        for key in ("type", "items", "properties"):
            node.pop(key, None)
    if node.get("x-kubernetes-preserve-unknown-fields"):
        node.pop("items", None)
        node.pop("properties", None)
    if "items" not in node and node.get("type") == "array":
        node.pop("type")
    if node.get("x-kubernetes-preserve-unknown-fields") and node.get("type") == "object":
        node.pop("type")
    nullable = {k for k, v in (node.get("properties") or {}).items() if v.get("nullable")}
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and extra.get("nullable"):
        node.pop("required", None)
    elif nullable and node.get("required"):
        node["required"] = [r for r in node["required"] if r not in nullable]
        if not node["required"]:
            node.pop("required")
    for child in _children(node):
        _to_v2(child)
    return node


def _prune_defaults(node: JSON) -> JSON:
    """`handler.PruneDefaults`: v2 definitions carry no defaults (in place)."""
    node.pop("default", None)
    for child in _children(node):
        _prune_defaults(child)
    return node


def _embed(node: JSON, template: Mapping[str, Any], *, v2: bool) -> None:
    """`addEmbeddedProperties`: TypeMeta and ObjectMeta in every embedded resource (in place)."""
    for child in _children(node):
        _embed(child, template, v2=v2)
    if v2 and node.get("x-kubernetes-preserve-unknown-fields"):
        return
    if not node.get("x-kubernetes-embedded-resource"):
        return
    properties = node.setdefault("properties", {})
    properties["apiVersion"] = {"description": _EMBEDDED_API_VERSION, "type": "string"}
    properties["kind"] = {"description": _EMBEDDED_KIND, "type": "string"}
    properties["metadata"] = copy.deepcopy(template["properties"]["metadata"])
    required = node.setdefault("required", [])
    for name in ("kind", "apiVersion"):
        if name not in required:
            required.append(name)


def _list_schema(rt: ResourceType, *, v2: bool) -> JSON:
    tmpl_kind = _template_kind(rt)
    if v2:
        template = _templates()["v2"]["definitions"][_template_prefix() + tmpl_kind + "List"]
    else:
        template = _templates()["v3"]["components"]["schemas"][
            _template_prefix() + tmpl_kind + "List"
        ]
    substituted: JSON = _substitute(template, rt, tmpl_kind)
    return substituted


def v3_document(types: list[ResourceType]) -> JSON:
    """The `/openapi/v3/apis/<group>/<version>` document of one CRD group-version."""
    tmpl = _templates()["v3"]
    prefix = _template_prefix()
    scaled = any(rt.scale is not None for rt in types)
    components = {
        name: schema
        for name, schema in tmpl["components"]["schemas"].items()
        if not name.startswith(prefix) and (scaled or not name.startswith(_SCALE))
    }
    paths: JSON = {}
    for rt in sorted(types, key=lambda t: t.resource):
        tmpl_kind = _template_kind(rt)
        plural = "/" + tmpl_kind.lower() + "s"
        for path, item in tmpl["paths"].items():
            if plural in path and _subresource_kept(path, rt):
                new_path, new_item = _substitute([path, item], rt, tmpl_kind)
                paths[new_path] = new_item
        name = definition_name(rt.group, rt.version, rt.kind)
        components[name] = v3_schema(rt)
        components[name + "List"] = _list_schema(rt, v2=False)
    return {
        "openapi": tmpl["openapi"],
        "info": tmpl["info"],
        "paths": dict(sorted(paths.items())),
        "components": {**tmpl["components"], "schemas": dict(sorted(components.items()))},
    }


def v2_definitions(types: Iterable[ResourceType]) -> JSON:
    """The `/openapi/v2` definitions of CRD versions (object and list)."""
    prefix = _template_prefix()
    out: JSON = {}
    for rt in types:
        tmpl_kind = _template_kind(rt)
        template = _templates()["v2"]["definitions"][prefix + tmpl_kind]
        name = definition_name(rt.group, rt.version, rt.kind)
        out[name] = _object_schema(rt, template, v2=True)
        out[name + "List"] = _list_schema(rt, v2=True)
    return out


# -- one cluster's documents --------------------------------------------------------------------


class OpenAPIDocuments:
    """A cluster's OpenAPI documents: its profile's plus its CRDs', built on first request."""

    def __init__(self, profile: Profile, crd_types: Iterable[ResourceType] = ()) -> None:
        self.base = base_documents(profile)
        self.crd_types = [t for t in crd_types if not t.builtin]
        self._crd_v3: dict[str, bytes] | None = None
        self._crd_v2: tuple[bytes, bytes] | None = None
        self._root: bytes | None = None

    def _crd_documents(self) -> dict[str, bytes]:
        if self._crd_v3 is None:
            by_gv: dict[str, list[ResourceType]] = {}
            for rt in self.crd_types:
                by_gv.setdefault(f"apis/{rt.group}/{rt.version}", []).append(rt)
            self._crd_v3 = {gv: _dumps(v3_document(types)) for gv, types in by_gv.items()}
        return self._crd_v3

    def _crd_definitions(self) -> tuple[bytes, bytes]:
        """The CRDs' v2 definitions as JSON members and as a protobuf `definitions` field."""
        if self._crd_v2 is None:
            definitions = v2_definitions(self.crd_types)
            json_members = b"".join(
                b"," + _dumps(name) + b":" + _dumps(schema) for name, schema in definitions.items()
            )
            self._crd_v2 = (json_members, openapi_pb.definitions(definitions))
        return self._crd_v2

    @property
    def documents(self) -> dict[str, bytes]:
        """`/openapi/v3/<path>` bodies by path."""
        base = self.base.v3()
        if not self.crd_types:
            return base
        return {**base, **self._crd_documents()}

    @property
    def root(self) -> bytes:
        """The `/openapi/v3` index: every document with the hash of its current body."""
        if self._root is None:
            index = {
                path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={schema_hash(body)}"}
                for path, body in sorted(self.documents.items())
            }
            self._root = _dumps({"paths": index})
        return self._root

    def v2_json_chunks(self) -> list[bytes]:
        head, middle, tail = self.base.v2_json()
        if not self.crd_types:
            return [head, middle, tail]
        return [head, middle, self._crd_definitions()[0], tail]

    def v2_proto_chunks(self) -> list[bytes]:
        base = self.base.v2_proto()
        if not self.crd_types:
            return [base]
        return [base, self._crd_definitions()[1]]


def negotiate_v2(accept: str) -> str | None:
    """ "json", "protobuf" or None (406) for an Accept header, as kube-apiserver decides."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(accept.split(",") if accept.strip() else ["*/*"]):
        media, *params = [p.strip() for p in part.split(";")]
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media in V2_PROTOBUF_TYPES:
            found = "protobuf"
        elif media in ("application/json", "application/*", "*/*"):
            found = "json"
        else:
            continue
        if quality > 0 and (best is None or quality > best[0]):
            best = (quality, position, found)
    return best[2] if best else None
