"""What keeps the dashboard's Store current, per process, whatever the number of browsers.

- `ControllerFeed` (inside `fleet controller run`): the Application controller's own cache
  through its observer hook (every hub watch event it sees, no request of ours); the
  ApplicationSet controller's cache and the cluster registry and manager (names, servers, health,
  breaker) read in process every `interval` seconds while a browser follows the live view
  (`watched`), every `idle_interval` otherwise: a dictionary walk, no hub request, but one over
  every registered cluster, which at 1,000 clusters four times a second was CPU taken from
  reconciles for a page nobody had open.
- `HubFeed` (`fleet dashboard` on a laptop, or a supervisor without caches of its own): one
  list-then-watch per kind on the hub (Applications, ApplicationSets, Clusters), shared by every
  browser. Cluster state is what the controller wrote to each Cluster's status; the breaker is
  unknown from outside the controller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskStatus
from kubernetes_asyncio.client import ApiClient

from fleet.api.group import FLEET, ApiFlavour
from fleet.kube.watch import list_and_watch
from fleet.server.dashboard.model import ClusterView, Obj, Store

if TYPE_CHECKING:
    from fleet.controllers.runtime import Controller


def _conditions(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    status = obj.get("status")
    found = status.get("conditions") if isinstance(status, Mapping) else None
    out: dict[str, Mapping[str, Any]] = {}
    for cond in found if isinstance(found, list) else []:
        if isinstance(cond, Mapping) and isinstance(cond.get("type"), str):
            out[cond["type"]] = cond
    return out


def cluster_from_status(obj: Mapping[str, Any]) -> ClusterView:
    """A Cluster resource as the Fleet page shows it, from the status the controller wrote."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
    status = obj.get("status") if isinstance(obj.get("status"), Mapping) else {}
    assert isinstance(meta, Mapping) and isinstance(spec, Mapping) and isinstance(status, Mapping)
    conds = _conditions(obj)
    ready = conds.get("Ready") or {}
    insecure = conds.get("InsecureTLS") or {}
    return ClusterView(
        name=str(meta.get("name") or ""),
        server=str(spec.get("server") or ""),
        ready=str(ready.get("status") or "Unknown"),
        reason=str(ready.get("reason") or ""),
        message=str(ready.get("message") or ""),
        insecure=insecure.get("status") == "True",
        version=str(status.get("serverVersion") or ""),
        source="Cluster",
    )


class HubFeed:
    def __init__(
        self, hub: ApiClient, namespace: str, store: Store, *, flavour: ApiFlavour = FLEET
    ) -> None:
        self.hub = hub
        self.namespace = namespace
        self.store = store
        self.flavour = flavour
        self.synced = anyio.Event()
        self._listed: set[str] = set()
        self._clusters: dict[str, Obj] = {}

    def _mark(self, which: str) -> None:
        self._listed.add(which)
        wanted = {"apps", "appsets"} | ({"clusters"} if self.flavour.cluster else set())
        if wanted <= self._listed:
            self.synced.set()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Watch until cancelled; started once every list has been read."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._apps)
            tg.start_soon(self._appsets)
            if self.flavour.cluster is not None:
                tg.start_soon(self._clusters_watch, self.flavour.cluster.collection(self.namespace))
            await self.synced.wait()
            task_status.started()

    async def _apps(self) -> None:
        store = self.store

        async def reset(items: list[Obj]) -> None:
            store.reset_apps(items)
            self._mark("apps")

        async def event(kind: str, obj: Obj) -> None:
            name = str((obj.get("metadata") or {}).get("name") or "")
            if kind == "DELETED":
                store.drop_app(name)
            else:
                store.put_app(obj)

        await list_and_watch(
            self.hub,
            self.flavour.application.collection(self.namespace),
            on_reset=reset,
            on_event=event,
        )

    async def _appsets(self) -> None:
        store = self.store

        async def reset(items: list[Obj]) -> None:
            store.reset_appsets(items)
            self._mark("appsets")

        async def event(kind: str, obj: Obj) -> None:
            name = str((obj.get("metadata") or {}).get("name") or "")
            if kind == "DELETED":
                store.drop_appset(name)
            else:
                store.put_appset(obj)

        await list_and_watch(
            self.hub,
            self.flavour.application_set.collection(self.namespace),
            on_reset=reset,
            on_event=event,
        )

    async def _clusters_watch(self, path: str) -> None:
        async def reset(items: list[Obj]) -> None:
            self._clusters = {str(i["metadata"]["name"]): i for i in items}
            self.store.set_clusters(cluster_from_status(o) for o in self._clusters.values())
            self._mark("clusters")

        async def event(kind: str, obj: Obj) -> None:
            name = str(obj["metadata"]["name"])
            if kind == "DELETED":
                self._clusters.pop(name, None)
            else:
                self._clusters[name] = obj
            self.store.set_clusters(cluster_from_status(o) for o in self._clusters.values())

        await list_and_watch(self.hub, path, on_reset=reset, on_event=event)


class ControllerFeed:
    """The Store fed from a running Controller's caches (see the module docstring)."""

    def __init__(
        self,
        controller: Controller,
        store: Store,
        *,
        interval: float = 0.25,
        idle_interval: float = 2.0,
        watched: Callable[[], bool] = lambda: True,
    ) -> None:
        self.controller = controller
        self.store = store
        self.interval = interval
        self.idle_interval = idle_interval
        self.watched = watched
        self._appset_versions: dict[str, str] = {}

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        apps = self.controller.applications
        while apps is None:  # built as the controller starts
            await anyio.sleep(0.05)
            apps = self.controller.applications
        self.store.reset_apps(list(apps.apps.values()))
        apps.observers.append(self._app_event)
        task_status.started()
        try:
            while True:
                self._poll()
                await anyio.sleep(self.interval if self.watched() else self.idle_interval)
        finally:
            apps.observers.remove(self._app_event)

    def _app_event(self, name: str, obj: Obj | None) -> None:
        if obj is None:
            self.store.drop_app(name)
        else:
            self.store.put_app(obj)

    def _poll(self) -> None:
        controller = self.controller
        appsets = controller.appsets
        if appsets is not None:
            current = appsets.cached()
            versions = {
                n: str((o.get("metadata") or {}).get("resourceVersion") or "")
                for n, o in current.items()
            }
            if versions != self._appset_versions:
                self._appset_versions = versions
                self.store.reset_appsets(list(current.values()))
        registry = controller.registry
        healths = registry.manager.healths() if registry.manager is not None else {}
        views = []
        for name, cluster in registry.registered.items():
            health = healths.get(name)
            obj = registry.clusters.get(name) or {}
            insecure = (_conditions(obj).get("InsecureTLS") or {}).get("status") == "True"
            if health is None:
                views.append(
                    ClusterView(name, cluster.server, insecure=insecure, source=cluster.source)
                )
                continue
            ready = "Unknown" if health.ready is None else ("True" if health.ready else "False")
            views.append(
                ClusterView(
                    name=name,
                    server=cluster.server,
                    ready=ready,
                    reason=health.reason,
                    message=health.message,
                    breaker=health.breaker,
                    insecure=insecure,
                    version=health.server_version or "",
                    source=cluster.source,
                )
            )
        self.store.set_clusters(views)
