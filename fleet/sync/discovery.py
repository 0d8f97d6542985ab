"""GVK -> REST resource (plural, namespaced) from the API server's own discovery, cached per client.

Why not the dynamic client's discovery: it caches to a shared temp file with blocking I/O (field
notes). This asks `/api/v1` or `/apis/<group>/<version>` once per client and group-version, and
asks again when a kind is missing (a CRD applied a moment ago), bounded by a deadline because a
new CRD takes a moment to be served.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio
from kubernetes_asyncio.client import ApiClient

from fleet.kube import NotFound, request_json


@dataclass(frozen=True, slots=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def collection(self, namespace: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{quote(namespace)}/{self.plural}"
        return f"{base}/{self.plural}"

    def item(self, name: str, namespace: str | None = None) -> str:
        return f"{self.collection(namespace)}/{quote(name)}"


class UnknownKind(Exception):
    """The cluster serves no such apiVersion/kind."""


class Discovery:
    """Per-client cache of group-version resource lists."""

    def __init__(self, api: ApiClient, *, timeout: float = 10.0) -> None:
        self.api = api
        self.timeout = timeout
        self._versions: dict[str, dict[str, Resource]] = {}
        self._lock = anyio.Lock()

    async def _fetch(self, api_version: str) -> dict[str, Resource]:
        path = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        group, _, version = api_version.rpartition("/")
        try:
            data: Any = await request_json(self.api, "GET", path, timeout=self.timeout)
        except NotFound:
            return {}
        out: dict[str, Resource] = {}
        for res in (data or {}).get("resources") or []:
            name = str(res.get("name", ""))
            if "/" in name:
                continue
            kind = str(res.get("kind", ""))
            out[kind] = Resource(group, version, kind, name, bool(res.get("namespaced")))
        return out

    async def resolve(self, api_version: str, kind: str, *, wait: float = 0.0) -> Resource:
        """The resource for `kind`; refreshes on a miss, retrying up to `wait` seconds."""
        known = self._versions.get(api_version)
        if known is not None and kind in known:
            return known[kind]
        deadline = anyio.current_time() + wait
        while True:
            async with self._lock:
                known = self._versions.get(api_version)
                if known is None or kind not in known:  # another task may have fetched it
                    self._versions[api_version] = await self._fetch(api_version)
            found = self._versions[api_version].get(kind)
            if found is not None:
                return found
            if anyio.current_time() >= deadline:
                break
            await anyio.sleep(0.2)
        raise UnknownKind(f"{api_version}/{kind} is not served by the cluster")


_CACHE: weakref.WeakKeyDictionary[ApiClient, Discovery] = weakref.WeakKeyDictionary()


def for_client(api: ApiClient) -> Discovery:
    """The one Discovery of this client (cached for the client's lifetime)."""
    found = _CACHE.get(api)
    if found is None:
        found = _CACHE[api] = Discovery(api)
    return found
