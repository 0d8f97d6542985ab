"""Which resources a cluster serves (built-ins plus its CRDs) and the legacy discovery documents.

Discovery bodies of a profile's built-in types are serialized once per process and shared by
every cluster; a cluster with CRDs builds its own documents, cached until its CRDs change.
Aggregated discovery is not served: clients ask for it first and fall back when they get plain JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from fleet.sim.kinds import STATUS_VERBS, ResourceType
from fleet.sim.openapi import OpenAPIDocuments
from fleet.sim.profile import MINIMAL, Profile

JSON = dict[str, Any]


def _dumps(doc: JSON) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def resource_entries(rt: ResourceType) -> list[JSON]:
    entry: JSON = {
        "name": rt.resource,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    out = [entry]
    if rt.has_status:
        out.append(
            {
                "name": f"{rt.resource}/status",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": list(STATUS_VERBS),
            }
        )
    if rt.scale:
        out.append(
            {
                "name": f"{rt.resource}/scale",
                "singularName": "",
                "namespaced": rt.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": list(STATUS_VERBS),
            }
        )
    return out


def _group_versions(types: Iterable[ResourceType]) -> dict[str, dict[str, list[ResourceType]]]:
    groups: dict[str, dict[str, list[ResourceType]]] = {}
    for rt in types:
        groups.setdefault(rt.group, {}).setdefault(rt.version, []).append(rt)
    return groups


def _version_key(version: str) -> tuple[int, int, int]:
    """Kubernetes version priority: GA > beta > alpha, then higher numbers first."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (-1, 0, 0)
    stage = {"alpha": 0, "beta": 1, None: 2}[m.group(2)]
    return (stage, int(m.group(1)), int(m.group(3) or 0))


class Documents:
    """Serialized discovery bodies for one set of types (a profile's, plus CRDs' if any)."""

    def __init__(self, types: list[ResourceType], profile: Profile = MINIMAL) -> None:
        groups = _group_versions(types)
        self.resource_lists: dict[str, bytes] = {}
        group_docs: list[JSON] = []
        self.groups: dict[str, bytes] = {}
        for group, versions in groups.items():
            for version, members in versions.items():
                gv = f"{group}/{version}" if group else version
                resources = [e for rt in members for e in resource_entries(rt)]
                self.resource_lists[gv] = _dumps(
                    {
                        "kind": "APIResourceList",
                        "apiVersion": "v1",
                        "groupVersion": gv,
                        "resources": resources,
                    }
                )
            if not group:
                continue
            ordered = sorted(versions, key=_version_key, reverse=True)
            entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in ordered]
            doc: JSON = {"name": group, "versions": entries, "preferredVersion": entries[0]}
            group_docs.append(doc)
            self.groups[group] = _dumps({"kind": "APIGroup", "apiVersion": "v1", **doc})
        self.group_list = _dumps({"kind": "APIGroupList", "apiVersion": "v1", "groups": group_docs})
        self._types = types
        self._profile = profile
        self._openapi: OpenAPIDocuments | None = None

    @property
    def openapi(self) -> OpenAPIDocuments:
        """The OpenAPI documents, built on first request (installing CRDs does not pay)."""
        if self._openapi is None:
            self._openapi = OpenAPIDocuments(self._profile, self._types)
        return self._openapi


class Registry:
    """The types one cluster serves: its profile's (shared) plus the ones its CRDs define."""

    __slots__ = ("_by_crd", "_crd_types", "_documents", "profile")

    def __init__(self, profile: Profile = MINIMAL) -> None:
        self.profile = profile
        self._crd_types: dict[tuple[str, str, str], ResourceType] = {}
        self._by_crd: dict[str, list[ResourceType]] = {}
        self._documents: Documents | None = None

    def lookup(self, group: str, version: str, resource: str) -> ResourceType | None:
        key = (group, version, resource)
        return self.profile.by_gvr.get(key) or self._crd_types.get(key)

    def all_types(self) -> list[ResourceType]:
        return [*self.profile.types, *self._crd_types.values()]

    def set_crd(self, name: str, types: list[ResourceType]) -> None:
        self.remove_crd(name)
        self._by_crd[name] = types
        for rt in types:
            self._crd_types[(rt.group, rt.version, rt.resource)] = rt
        self._documents = None

    def remove_crd(self, name: str) -> list[ResourceType]:
        types = self._by_crd.pop(name, [])
        for rt in types:
            self._crd_types.pop((rt.group, rt.version, rt.resource), None)
        self._documents = None
        return types

    def documents(self) -> Documents:
        if not self._crd_types:
            return self.profile.documents()
        if self._documents is None:
            self._documents = Documents(self.all_types(), self.profile)
        return self._documents


def api_versions(server_address: str) -> bytes:
    return _dumps(
        {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
            ],
        }
    )
