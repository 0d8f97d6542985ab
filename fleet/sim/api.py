"""The verbs of one cluster: get, list, create, update, patch, apply, delete.

Plain synchronous methods over the `Store`, raising `ApiError`; the HTTP layer only parses the
request and serializes what comes back. Returning (HTTP code, body) keeps 200/201 decisions
here, next to the semantics that drive them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from fleet.sim import crdschema, defaults, errors, fieldcheck, objects, paging, patch, ssa
from fleet.sim.discovery import Registry
from fleet.sim.errors import ApiError
from fleet.sim.jsonutil import clone
from fleet.sim.kinds import CRDS, NAMESPACES, ResourceType, types_from_crd
from fleet.sim.selectors import FieldSelector, LabelSelector
from fleet.sim.store import Event, Store, meta

JSON = dict[str, Any]
Result = tuple[int, JSON]

_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
GC_FINALIZERS = ("foregroundDeletion", "orphan")
_UNDELETABLE_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


class WriteOptions:
    """Query parameters shared by the write verbs."""

    __slots__ = ("dry_run", "force", "manager", "strict", "subresource", "warnings")

    def __init__(
        self,
        *,
        manager: str = "",
        dry_run: bool = False,
        force: bool = False,
        subresource: str = "",
        strict: bool = False,
    ) -> None:
        self.manager = manager
        self.dry_run = dry_run
        self.force = force
        self.subresource = subresource
        #: fieldValidation=Strict: undeclared fields of custom resources are errors, not pruned
        self.strict = strict
        #: warnings for the response's `Warning` headers (pruned fields)
        self.warnings: list[str] = []


def present(rt: ResourceType, obj: JSON) -> JSON:
    """An object as served through `rt` (CRD objects keep one storage, served per version)."""
    if obj.get("apiVersion") != rt.api_version:
        return {**obj, "apiVersion": rt.api_version}
    return obj


def _status_success(rt: ResourceType, obj: JSON) -> JSON:
    details: JSON = {"name": meta(obj).get("name", "")}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.resource
    details["uid"] = meta(obj).get("uid", "")
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


def decode_body(raw: bytes, *, yaml_ok: bool = False) -> Any:
    """JSON, or YAML where allowed; JSON is tried first since clients mostly send it (and
    PyYAML is an order of magnitude slower)."""
    try:
        return json.loads(raw)
    except ValueError as exc:
        if not yaml_ok:
            raise errors.bad_request(f"error decoding body: {exc}") from None
    try:
        return yaml.load(raw, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"error decoding YAML: {exc}") from None


class ClusterAPI:
    def __init__(self, store: Store, registry: Registry, *, ca_pem: bytes = b"") -> None:
        self.store = store
        self.registry = registry
        self.ips = defaults.ClusterIPs()
        store.listeners.append(self._on_event)
        # the profile's default objects (minimal: the four namespaces); `ca_pem` fills in
        # the kube-root-ca.crt ConfigMaps of the realistic profile
        registry.profile.seed(self, ca_pem)

    def create_builtin_namespace(self, name: str) -> None:
        obj: JSON = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        self.create(NAMESPACES, "", obj, WriteOptions(manager="kube-apiserver"))

    # ---------------------------------------------------------------- reads

    def get(self, rt: ResourceType, namespace: str, name: str) -> JSON:
        obj = self.store.get(rt.gr, namespace, name)
        if obj is None:
            raise errors.not_found(rt.resource, rt.group, name)
        return present(rt, obj)

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
        *,
        limit: int = 0,
        continue_token: str = "",
    ) -> JSON:
        items = self.store.items(rt.gr, namespace)
        start = paging.decode_continue(continue_token) if continue_token else None
        if start is not None:
            items = [o for o in items if paging.sort_key(o) > start]
        items = [o for o in items if labels.matches(meta(o).get("labels")) and fields.matches(o)]
        list_meta: JSON = {"resourceVersion": str(self.store.rv)}
        if limit > 0 and len(items) > limit:
            rest = len(items) - limit
            items = items[:limit]
            list_meta["continue"] = paging.encode_continue(
                paging.sort_key(items[-1]), self.store.rv
            )
            list_meta["remainingItemCount"] = rest
        served = [present(rt, o) for o in items]
        if rt.builtin:
            # typed lists of the real server leave kind/apiVersion out of their items
            served = [
                {k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in served
            ]
        return {
            "kind": rt.list_kind,
            "apiVersion": rt.api_version,
            "metadata": list_meta,
            "items": served,
        }

    # ---------------------------------------------------------------- create

    def create(self, rt: ResourceType, namespace: str, body: Any, opts: WriteOptions) -> Result:
        obj = crdschema.admit(
            rt,
            self._check_body(rt, namespace, body, name=None),
            strict=opts.strict,
            warnings=opts.warnings,
        )
        explicit_managed = bool(meta(obj).get("managedFields"))
        new = self._prepare_create(rt, namespace, obj)
        if not explicit_managed:
            meta(new).pop("managedFields", None)
            ssa.track_update(
                None,
                new,
                manager=opts.manager,
                api_version=rt.api_version,
                subresource="",
                has_status=rt.has_status,
                schema=rt.schema,
                now=meta(new)["creationTimestamp"],
            )
        return 201, self._store_new(rt, new, opts)

    def _prepare_create(self, rt: ResourceType, namespace: str, obj: JSON) -> JSON:
        m = meta(obj)
        if not m.get("name") and m.get("generateName"):
            m["name"] = objects.generate_name(str(m["generateName"]))
        objects.validate_name(rt, str(m.get("name", "")))
        objects.validate_metadata(rt, obj)
        name = str(m["name"])
        if rt.namespaced:
            self._require_namespace(rt, namespace, name)
        if self.store.get(rt.gr, namespace, name) is not None:
            raise errors.already_exists(rt.resource, rt.group, name)
        for key in (
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "resourceVersion",
            "selfLink",
        ):
            m.pop(key, None)
        m["uid"] = objects.new_uid()
        m["creationTimestamp"] = objects.now()
        if rt.tracks_generation:
            m["generation"] = 1
        else:
            m.pop("generation", None)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        objects.initial_status(rt, obj)
        defaults.apply_defaults(rt, obj, self.ips)
        if rt is CRDS:
            self._check_crd(obj)
        return _ordered(obj)

    def _store_new(self, rt: ResourceType, new: JSON, opts: WriteOptions) -> JSON:
        crdschema.check_required(rt, new)
        if opts.dry_run:
            return present(rt, new)
        return present(rt, self.store.write(rt.gr, new).obj)

    def _require_namespace(self, rt: ResourceType, namespace: str, name: str) -> None:
        ns = self.store.get(NAMESPACES.gr, "", namespace)
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if meta(ns).get("deletionTimestamp"):
            raise ApiError(
                403,
                f'{errors.qualified(rt.resource, rt.group)} "{name}" is forbidden: unable to '
                f"create new content in namespace {namespace} because it is being terminated",
                details={
                    "name": name,
                    **({"group": rt.group} if rt.group else {}),
                    "kind": rt.resource,
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {namespace} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    def _check_crd(self, crd: JSON) -> None:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        expected = f"{names.get('plural', '')}.{spec.get('group', '')}"
        name = meta(crd).get("name", "")
        if name != expected:
            raise errors.invalid(
                "CustomResourceDefinition",
                "apiextensions.k8s.io",
                name,
                [
                    (
                        "metadata.name",
                        "FieldValueInvalid",
                        f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
                    )
                ],
            )

    # ---------------------------------------------------------------- update / patch

    def update(
        self, rt: ResourceType, namespace: str, name: str, body: Any, opts: WriteOptions
    ) -> Result:
        obj = crdschema.admit(
            rt,
            self._check_body(rt, namespace, body, name=name),
            strict=opts.strict,
            warnings=opts.warnings,
        )
        old = self.existing(rt, namespace, name)
        if not rt.builtin and not meta(obj).get("resourceVersion"):
            # custom resources do not allow unconditional updates
            raise errors.invalid(
                rt.kind,
                rt.group,
                name,
                [
                    (
                        "metadata.resourceVersion",
                        "FieldValueInvalid",
                        "Invalid value: 0x0: must be specified for an update",
                    )
                ],
            )
        return 200, self.write_update(rt, old, obj, opts)

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        raw: bytes,
        opts: WriteOptions,
    ) -> Result:
        if content_type == patch.APPLY_PATCH:
            return self.apply(rt, namespace, name, decode_body(raw, yaml_ok=True), opts)
        doc = decode_body(raw)
        old = self.existing(rt, namespace, name)
        current = clone(old)
        if content_type == patch.MERGE_PATCH:
            new = patch.merge_patch(current, doc)
        elif content_type == patch.JSON_PATCH:
            new = patch.json_patch(current, doc)
        elif content_type == patch.STRATEGIC_PATCH:
            if not rt.builtin:
                raise ApiError(
                    415,
                    "the body of the request was in an unknown format - accepted media types "
                    "include: application/json-patch+json, application/merge-patch+json, "
                    "application/apply-patch+yaml",
                )
            if not isinstance(doc, Mapping):
                raise errors.bad_request("strategic merge patch must be an object")
            new = patch.strategic_merge_patch(current, doc, rt.schema)
        else:
            raise ApiError(415, f"unsupported patch content type {content_type!r}")
        if not isinstance(new, dict):
            raise errors.bad_request("patch did not produce an object")
        if meta(new).get("managedFields") == meta(old).get("managedFields"):
            meta(new).pop("managedFields", None)
        obj = crdschema.admit(
            rt,
            self._check_body(rt, namespace, new, name=name),
            strict=opts.strict,
            warnings=opts.warnings,
            patch=True,
        )
        return 200, self.write_update(rt, old, obj, opts)

    def existing(self, rt: ResourceType, namespace: str, name: str) -> JSON:
        old = self.store.get(rt.gr, namespace, name)
        if old is None:
            raise errors.not_found(rt.resource, rt.group, name)
        return old

    def write_update(self, rt: ResourceType, old: JSON, obj: JSON, opts: WriteOptions) -> JSON:
        m = meta(obj)
        expected = m.get("resourceVersion")
        if expected and expected != meta(old).get("resourceVersion"):
            raise errors.conflict(rt.resource, rt.group, meta(old)["name"], errors.STALE)
        if m.get("uid") and m["uid"] != meta(old).get("uid"):
            raise errors.conflict(
                rt.resource,
                rt.group,
                meta(old)["name"],
                f"Precondition failed: UID in precondition: {m['uid']}, UID in object meta: "
                f"{meta(old).get('uid')}",
            )
        explicit = m.get("managedFields")
        new = self._merge_update(rt, old, obj, opts.subresource)
        if explicit is not None and explicit != meta(old).get("managedFields"):
            entries = [e for e in explicit if isinstance(e, Mapping) and e]
            meta(new)["managedFields"] = entries
            if not entries:
                meta(new).pop("managedFields")
        else:
            meta(new)["managedFields"] = clone(meta(old).get("managedFields") or [])
            ssa.track_update(
                old,
                new,
                manager=opts.manager,
                api_version=rt.api_version,
                subresource=opts.subresource,
                has_status=rt.has_status,
                schema=rt.schema,
                now=objects.now(),
            )
        return self._commit(rt, old, new, opts)

    def _merge_update(self, rt: ResourceType, old: JSON, obj: JSON, subresource: str) -> JSON:
        """The object an update produces, before managedFields: immutable fields kept."""
        if subresource == "status":
            new = clone(old)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            return new
        new = clone(obj)
        m, before = meta(new), meta(old)
        for key in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "namespace",
            "resourceVersion",
        ):
            if key in before:
                m[key] = before[key]
            else:
                m.pop(key, None)
        new["apiVersion"], new["kind"] = old["apiVersion"], old["kind"]
        if rt.has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if rt is CRDS:
            self._check_crd(new)
            new["status"] = objects.crd_status(new)
        if rt is NAMESPACES:
            new["spec"] = old.get("spec", {})
        defaults.apply_defaults(rt, new, self.ips)
        return _ordered(new)

    def _commit(self, rt: ResourceType, old: JSON, new: JSON, opts: WriteOptions) -> JSON:
        """Store an update unless it changes nothing; bump generation; finish deletions."""
        m = meta(new)
        if rt.tracks_generation and objects.content(new, rt) != objects.content(old, rt):
            m["generation"] = int(meta(old).get("generation", 1)) + 1
        if m.get("deletionTimestamp") and not m.get("finalizers"):
            if not opts.dry_run:
                self.store.remove(rt.gr, m.get("namespace", ""), m["name"])
            return present(rt, new)
        if new == old:
            return present(rt, old)
        objects.validate_metadata(rt, new)
        objects.validate_update(rt, old, new)
        crdschema.check_required(rt, new)
        if opts.dry_run:
            return present(rt, new)
        return present(rt, self.store.write(rt.gr, new).obj)

    # ---------------------------------------------------------------- apply

    def apply(
        self, rt: ResourceType, namespace: str, name: str, body: Any, opts: WriteOptions
    ) -> Result:
        if not opts.manager:
            raise ApiError(
                422,
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                "is required for apply patch",
                reason="Invalid",
                details={
                    "group": "meta.k8s.io",
                    "kind": "PatchOptions",
                    "causes": [
                        {
                            "reason": "FieldValueRequired",
                            "message": "Required value: is required for apply patch",
                            "field": "fieldManager",
                        }
                    ],
                },
            )
        checked = self._check_body(rt, namespace, body, name=name, apply=True)
        if rt.builtin:
            given = body.get("metadata") if isinstance(body, dict) else None
            config = fieldcheck.admit_apply(
                rt,
                checked,
                name=name,
                namespace=str((given or {}).get("namespace") or ""),
                strict=opts.strict,
            )
        else:
            config = crdschema.admit(rt, checked, strict=opts.strict, warnings=opts.warnings)
        cm = meta(config)
        if cm.get("managedFields"):
            raise errors.bad_request("metadata.managedFields must be nil")
        for key in ("uid", "creationTimestamp", "generation"):
            cm.pop(key, None)
        expected = cm.pop("resourceVersion", None)
        old = self.store.get(rt.gr, namespace, name)
        if old is not None and expected and expected != meta(old).get("resourceVersion"):
            raise errors.conflict(rt.resource, rt.group, name, errors.STALE)
        if opts.subresource == "status":
            if old is None:
                raise errors.not_found(rt.resource, rt.group, name)
            config = {"status": config.get("status") or {}}
        elif rt.has_status:
            config.pop("status", None)
        for key in ("apiVersion", "kind"):
            config.pop(key, None)
        kwargs: dict[str, Any] = {
            "manager": opts.manager,
            "api_version": rt.api_version,
            "subresource": opts.subresource,
            "has_status": rt.has_status,
            "force": opts.force,
            "schema": rt.schema,
            "now": objects.now(),
        }
        if old is None:
            created = ssa.apply(None, config, **kwargs)
            managed = meta(created).get("managedFields")
            created.setdefault("metadata", {})["name"] = name
            new = self._prepare_create(rt, namespace, created)
            if managed:
                meta(new)["managedFields"] = managed
            return 201, self._store_new(rt, new, opts)
        merged = ssa.apply(old, config, **kwargs)
        managed = meta(merged).get("managedFields")
        new = self._merge_update(rt, old, merged, opts.subresource)
        if managed:
            meta(new)["managedFields"] = managed
        else:
            meta(new).pop("managedFields", None)
        return 200, self._commit(rt, old, new, opts)

    # ---------------------------------------------------------------- delete

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        options: Mapping[str, Any],
        *,
        dry_run: bool = False,
    ) -> Result:
        obj = self.existing(rt, namespace, name)
        if rt is NAMESPACES and name in _UNDELETABLE_NAMESPACES:
            raise ApiError(
                403,
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                details={"name": name, "kind": "namespaces"},
            )
        _check_preconditions(rt, obj, options.get("preconditions"))
        policy = options.get("propagationPolicy")
        if policy is None and options.get("orphanDependents") is not None:
            policy = "Orphan" if options["orphanDependents"] else "Background"
        if policy not in (None, "Foreground", "Background", "Orphan"):
            raise errors.bad_request(f"unsupported propagationPolicy {policy!r}")
        m = meta(obj)
        finalizers = list(m.get("finalizers") or [])
        wanted = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(policy or "")
        if rt is NAMESPACES:
            wanted = None  # contents go by the namespace lifecycle below
        added = wanted is not None and wanted not in finalizers
        if added and wanted:
            finalizers = [f for f in finalizers if f not in GC_FINALIZERS] + [wanted]
        if rt is NAMESPACES or finalizers:
            if m.get("deletionTimestamp") and not added:
                return 200, present(rt, obj)
            new = clone(obj)
            nm = meta(new)
            nm.setdefault("deletionTimestamp", objects.now())
            nm.setdefault("deletionGracePeriodSeconds", 0)
            if finalizers:
                nm["finalizers"] = finalizers
            if rt is NAMESPACES:
                new["status"] = {"phase": "Terminating"}
            if dry_run:
                return 200, present(rt, new)
            return 200, present(rt, self.store.write(rt.gr, new).obj)
        if not dry_run:
            self.store.remove(rt.gr, namespace, name)
        return 200, _status_success(rt, obj)

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
        options: Mapping[str, Any],
        *,
        dry_run: bool = False,
    ) -> JSON:
        listed = self.list(rt, namespace, labels, fields)
        for item in listed["items"]:
            m = meta(item)
            self.delete(rt, m.get("namespace", ""), m["name"], options, dry_run=dry_run)
        return listed

    # ---------------------------------------------------------------- internals

    def _check_body(
        self,
        rt: ResourceType,
        namespace: str,
        body: Any,
        *,
        name: str | None,
        apply: bool = False,
    ) -> JSON:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        obj = clone(body)
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if apply and not (api_version and kind):
            raise errors.bad_request("apiVersion and kind must be set in an applied object")
        if (kind and kind != rt.kind) or (api_version and api_version != rt.api_version):
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({rt.api_version})"
                if api_version != rt.api_version
                else f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
            )
        m = obj.get("metadata")
        if m is None:
            m = obj["metadata"] = {}
        if not isinstance(m, dict):
            raise errors.bad_request("metadata must be an object")
        if rt.namespaced:
            if m.get("namespace") and m["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            m["namespace"] = namespace
        else:
            m.pop("namespace", None)
        if name is not None:
            if m.get("name") and m["name"] != name:
                raise errors.bad_request(
                    f"the name of the object ({m['name']}) does not match the name on the URL "
                    f"({name})"
                )
            m["name"] = name
        return obj

    def _on_event(self, event: Event) -> None:
        """Serve or stop serving a CRD's resources as it is created, changed or deleted."""
        if event.gr != CRDS.gr:
            return
        name = meta(event.obj).get("name", "")
        if event.type == "DELETED":
            for rt in self.registry.remove_crd(name)[:1]:
                for obj in self.store.items(rt.gr):
                    om = meta(obj)
                    self.store.remove(rt.gr, om.get("namespace", ""), om["name"])
        else:
            self.registry.set_crd(name, types_from_crd(event.obj))


def _check_preconditions(rt: ResourceType, obj: JSON, pre: Any) -> None:
    if not isinstance(pre, Mapping):
        return
    m = meta(obj)
    if pre.get("uid") and pre["uid"] != m.get("uid"):
        raise errors.conflict(
            rt.resource,
            rt.group,
            m["name"],
            f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: "
            f"{m.get('uid')}",
        )
    if pre.get("resourceVersion") and pre["resourceVersion"] != m.get("resourceVersion"):
        raise errors.conflict(
            rt.resource,
            rt.group,
            m["name"],
            f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
            f"ResourceVersion in object meta: {m.get('resourceVersion')}",
        )


_FIRST = ("apiVersion", "kind", "metadata", "spec")


def _ordered(obj: JSON) -> JSON:
    """apiVersion, kind, metadata, spec first, then the rest, status last (as served)."""
    out = {k: obj[k] for k in _FIRST if k in obj}
    out.update({k: v for k, v in obj.items() if k not in out and k != "status"})
    if "status" in obj:
        out["status"] = obj["status"]
    return out
