"""Garbage collection and namespace termination, as the controller-manager would do them.

Reacts to store events: an owner that disappears takes its dependents with it (Background),
an owner deleted with `Foreground` waits for its dependents before going, `Orphan` strips the
owner references first, and a terminating namespace empties itself and then goes. Work runs in
a loop callback right after the write, so the deleting request gets its answer first and the
dependents disappear "soon", as in a real cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from fleet.sim.errors import ApiError
from fleet.sim.jsonutil import clone
from fleet.sim.kinds import NAMESPACES, ResourceType
from fleet.sim.store import Event, ObjKey, meta

if TYPE_CHECKING:
    from fleet.sim.api import ClusterAPI

JSON = dict[str, Any]
_MAX_ROUNDS = 10_000


class GarbageCollector:
    def __init__(self, api: ClusterAPI) -> None:
        self.api = api
        self.store = api.store
        self._gone_owners: set[str] = set()
        self._finalizing: set[ObjKey] = set()
        self._namespaces: set[str] = set()
        self._scheduled = False
        self.store.listeners.append(self._on_event)

    def _on_event(self, event: Event) -> None:
        m = meta(event.obj)
        if event.type == "DELETED":
            if m.get("uid"):
                self._gone_owners.add(m["uid"])
            self._schedule()
            return
        if event.type == "ADDED" and m.get("ownerReferences"):
            self._gone_owners.update(
                str(r["uid"]) for r in m["ownerReferences"] if isinstance(r, dict) and r.get("uid")
            )
            self._schedule()
        if m.get("deletionTimestamp"):
            if event.gr == NAMESPACES.gr:
                self._namespaces.add(m["name"])
            elif any(f in ("foregroundDeletion", "orphan") for f in m.get("finalizers") or ()):
                self._finalizing.add((event.gr, event.namespace, m["name"]))
            self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            try:
                asyncio.get_running_loop().call_soon(self.run)
            except RuntimeError:  # no loop (sync use in tests/tools): collect right away
                self.run()

    def run(self) -> None:
        """Collect until nothing more can move (bounded, in case of owner reference cycles)."""
        self._scheduled = False
        for _ in range(_MAX_ROUNDS):
            progressed = False
            if self._gone_owners:
                owners, self._gone_owners = self._gone_owners, set()
                progressed |= self._collect_dependents(owners)
            for key in list(self._finalizing):
                progressed |= self._finalize(key)
            for name in list(self._namespaces):
                progressed |= self._terminate(name)
            if not progressed and not self._gone_owners:
                return

    def _type(self, gr: str) -> ResourceType | None:
        for rt in self.api.registry.all_types():
            if rt.gr == gr:
                return rt
        return None

    def _owner_alive(self, uid: str) -> bool:
        return self.store.key_of_uid(uid) is not None

    def _collect_dependents(self, owners: set[str]) -> bool:
        progressed = False
        for owner in owners:
            if self._owner_alive(owner):
                continue
            for gr, namespace, name in self.store.dependents(owner):
                obj = self.store.get(gr, namespace, name)
                rt = self._type(gr)
                if obj is None or rt is None:
                    continue
                refs = meta(obj).get("ownerReferences") or []
                alive = [r for r in refs if self._owner_alive(str(r.get("uid", "")))]
                if alive:
                    new = clone(obj)
                    meta(new)["ownerReferences"] = alive
                    self.store.write(gr, new)
                elif not meta(obj).get("deletionTimestamp"):
                    self._delete(rt, namespace, name, "Background")
                progressed = True
        return progressed

    def _delete(self, rt: ResourceType, namespace: str, name: str, policy: str) -> None:
        # ApiError: already gone, another path of the collection got there first
        with contextlib.suppress(ApiError):
            self.api.delete(rt, namespace, name, {"propagationPolicy": policy})

    def _finalize(self, key: ObjKey) -> bool:
        gr, namespace, name = key
        obj = self.store.get(gr, namespace, name)
        rt = self._type(gr)
        if obj is None or rt is None:
            self._finalizing.discard(key)
            return False
        m = meta(obj)
        finalizers = list(m.get("finalizers") or [])
        uid = str(m.get("uid", ""))
        dependents = [d for d in self.store.dependents(uid) if self.store.get(*d) is not None]
        if "orphan" in finalizers:
            for dgr, dns, dname in dependents:
                dep = clone(self.store.get(dgr, dns, dname) or {})
                refs = [r for r in meta(dep).get("ownerReferences") or [] if r.get("uid") != uid]
                if refs:
                    meta(dep)["ownerReferences"] = refs
                else:
                    meta(dep).pop("ownerReferences", None)
                self.store.write(dgr, dep)
            finalizers.remove("orphan")
        elif "foregroundDeletion" in finalizers:
            waiting = False
            for dgr, dns, dname in dependents:
                current = self.store.get(dgr, dns, dname)
                drt = self._type(dgr)
                if current is None or drt is None:
                    continue
                waiting = True
                if not meta(current).get("deletionTimestamp"):
                    self._delete(drt, dns, dname, "Foreground")
            if waiting and any(self.store.get(*d) is not None for d in dependents):
                return False
            finalizers.remove("foregroundDeletion")
        else:
            self._finalizing.discard(key)
            return False
        self._finalizing.discard(key)
        new = clone(obj)
        meta(new)["finalizers"] = finalizers
        if not finalizers:
            meta(new).pop("finalizers")
            self.store.remove(gr, namespace, name)
        else:
            self.store.write(gr, new)
        return True

    def _terminate(self, namespace: str) -> bool:
        ns = self.store.get(NAMESPACES.gr, "", namespace)
        if ns is None:
            self._namespaces.discard(namespace)
            return False
        progressed = False
        remaining = 0
        for gr, obj in self.store.namespaced_items(namespace):
            remaining += 1
            m = meta(obj)
            rt = self._type(gr)
            if rt is not None and not m.get("deletionTimestamp"):
                self._delete(rt, namespace, m["name"], "Background")
                progressed = True
        if remaining and any(True for _ in self.store.namespaced_items(namespace)):
            return progressed
        self._namespaces.discard(namespace)
        self.store.remove(NAMESPACES.gr, "", namespace)
        return True
