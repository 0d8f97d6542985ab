"""SyncEngine: compare, sync (waves, health gates, prune, retry) and status for one Application
on one cluster.

The controller builds one engine per (Application, cluster) with that cluster's ApiClient
(`ClusterManager.client(name)`), calls `sync(manifests, revision)` when Git moves or auto-sync
asks, and attaches a `SelfHealer(engine)` to its task group to react to drift. All cluster I/O is
through `fleet.kube` (bounded, typed errors); objects are compared with a server-side dry-run
apply (`diff.py`), so a sync with nothing to change makes no write.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import structlog
from kubernetes_asyncio.client import ApiClient

from fleet.kube import KubeError, NotFound, jsonbody
from fleet.kube.adaptive import AdaptiveLimit
from fleet.sync import apply as applier
from fleet.sync import appraise, discovery, hookrun, hooks, ordering, pool, prune, syncoptions
from fleet.sync.diff import changed_paths, differs
from fleet.sync.discovery import Resource, UnknownKind
from fleet.sync.inventory import Key, ResourceState, describe, key_of
from fleet.sync.spec import AppSpec
from fleet.sync.status import AppStatus, Operation, ResourceResult, now
from fleet.sync.summary import summarize
from fleet.sync.tracking import COMPARE_OPTIONS, SYNC_OPTIONS, options, stamp

Obj = dict[str, Any]


def shape(live: Obj) -> str | None:
    """What a change must alter to possibly be drift: generation (bumped by the API server on
    every spec change), labels and annotations. None for kinds without a generation (e.g.
    ConfigMaps): any change of theirs may be drift."""
    meta = live.get("metadata") or {}
    generation = meta.get("generation")
    if not generation:
        return None
    return fingerprint([generation, meta.get("labels") or {}, meta.get("annotations") or {}])


def fingerprint(doc: Any) -> str:
    """A short stand-in for a document kept per object to compare later (what was verified):
    20 bytes instead of the whole document, for every object of every Application."""
    return hashlib.blake2b(jsonbody.canonical(doc), digest_size=20).hexdigest()


class SyncFailed(Exception):
    """One sync attempt failed (an apply error, a Degraded object, a wave timeout, a hook)."""


HOOK_FAILURE = "one or more synchronization tasks completed unsuccessfully"
"""Argo CD's operation message when a task (here: a hook) failed; the hook and reason follow."""


NO_OPTIONS: frozenset[str] = frozenset()
"""The options of the many objects that have none: one set for all (an empty frozenset is not
a singleton, and each costs 216 bytes)."""


def _sync_options(obj: Obj) -> frozenset[str]:
    """The object's `argocd.argoproj.io/sync-options` that change how it is applied."""
    return frozenset(options(obj, SYNC_OPTIONS)) or NO_OPTIONS


Restamp = Callable[[Resource, Obj], Obj]
"""Rebuilds a released Planned's stamped object from its manifest (`SyncEngine._stamped`)."""


class Planned:
    """One desired object, resolved and compared with the cluster.

    Why its stamped object can be released: the engine keeps a Planned for every desired
    object for its Application's life (self-heal re-applies from it), and each stamped object
    has a top level, metadata, labels, annotations and tracking id of its own (about 15 MiB at
    1,000 clusters x 20 objects), where the manifest it came from is the render cache's,
    shared. `release()` drops the stamped object when a compare or sync is done with it; `obj`
    rebuilds it, equal, from the manifest on the next use (a heal, a dry run)."""

    __slots__ = (
        "_manifest", "_obj", "_restamp", "key", "live", "message", "options", "out_of_sync",
        "resource",
    )  # fmt: skip

    def __init__(
        self,
        key: Key,
        obj: Obj,
        resource: Resource | None,
        live: Obj | None,
        out_of_sync: bool,
        message: str = "",
        options: frozenset[str] = NO_OPTIONS,
        *,
        manifest: Obj | None = None,
        restamp: Restamp | None = None,
    ) -> None:
        self.key = key
        self._obj: Obj | None = obj
        self.resource = resource
        self.live = live
        self.out_of_sync = out_of_sync
        self.message = message
        self.options = options
        self._manifest = manifest
        self._restamp = restamp

    @property
    def obj(self) -> Obj:
        """The stamped desired object (never edited in place: see fleet.sync.tracking.stamp)."""
        obj = self._obj
        if obj is None:
            assert self.resource is not None and self._manifest is not None and self._restamp
            obj = self._obj = self._restamp(self.resource, self._manifest)
        return obj

    def adopt(self, fresh: Planned) -> None:
        """Take the resolution and comparison of `fresh`, a new plan of the same object (one
        whose kind was unknown until its CRD was applied)."""
        self._obj, self._manifest, self._restamp = fresh._obj, fresh._manifest, fresh._restamp
        self.resource, self.live, self.out_of_sync = fresh.resource, fresh.live, fresh.out_of_sync

    @property
    def holds_stamped(self) -> bool:
        """Whether the stamped object is held now (False between uses, once released)."""
        return self._obj is not None

    def release(self) -> None:
        """Drop the stamped object until it is next used (only where it can be rebuilt)."""
        if self._restamp is not None and self.resource is not None:
            self._obj = None

    def __repr__(self) -> str:
        return (
            f"Planned({self.key!r}, resource={self.resource!r}, out_of_sync={self.out_of_sync},"
            f" message={self.message!r})"
        )


@dataclass
class Comparison:
    plans: dict[Key, Planned] = field(default_factory=dict)
    extraneous: dict[Key, tuple[Resource, Obj]] = field(default_factory=dict)
    hooks: dict[Key, tuple[Resource, Obj]] = field(default_factory=dict)
    """Live hooks of this Application (left by earlier syncs): never compared or pruned."""

    @property
    def in_sync(self) -> bool:
        return not any(p.out_of_sync for p in self.plans.values()) and not any(
            "IgnoreExtraneous" not in options(live, COMPARE_OPTIONS)
            for _, live in self.extraneous.values()
        )


class SyncEngine:
    def __init__(
        self,
        api: ApiClient,
        spec: AppSpec,
        *,
        cluster: str = "",
        status: dict[str, Any] | None = None,
        wave_timeout: float = 120.0,
        health_interval: float = 0.25,
        concurrency: int = 16,
        timeout: float = 10.0,
        hook_timeout: float = 600.0,
    ) -> None:
        self.api = api
        self.spec = spec
        self.cluster = cluster
        self.discovery = discovery.for_client(api)
        self.status = AppStatus.from_dict(status)
        self.wave_timeout = wave_timeout
        self.hook_timeout = hook_timeout
        """How long one wave of hooks may run before the sync fails (see fleet.sync.hookrun)."""
        self.health_interval = health_interval
        self.timeout = timeout
        self.writes = 0
        """Write requests this engine sent (applies, creates, deletes; not dry-runs)."""
        self.desired: dict[Key, Planned] = {}
        self._restamp: Restamp = self._stamped  # one bound method for every Planned
        self.verified: dict[Key, tuple[str, str]] = {}
        """Key -> (digest of the desired document, resourceVersion) known to be in sync (written
        or checked)."""
        self.shapes: dict[Key, str] = {}
        """Key -> `shape(live)` when it was last verified: a later version of the same shape
        differs only in status (see `shape`)."""
        self.live_cache: prune.LiveCache | None = None
        """Set by the controller when a shared watch (WatchHub) already holds this
        Application's objects: a compare then costs no LIST."""
        self.open_cache: Callable[[set[Resource]], Awaitable[None]] | None = None
        """Set by the controller: opens the shared watches of these types before a compare
        (WatchHub.prime), so even the first compare reads `live_cache` instead of LISTing."""
        self.write_lock = anyio.Lock()
        self.on_kinds_changed: Callable[[], None] | None = None
        """Called after a compare (the self-healer follows the kinds of the desired objects)."""
        self._stop_retrying: anyio.Event | None = None
        """Exists while a sync runs (2,000 idle engines need no event)."""
        self.stop_reason = ""
        self.on_progress: Callable[[], Awaitable[None]] | None = None
        """Set by the controller: writes the Application's status while a sync waits on hooks,
        so `operationState` shows them Running (as Argo CD does) during a long migration."""
        self.concurrency = max(1, concurrency)
        """Objects compared or applied at once at most (fleet.sync.pool; see `_workers`)."""
        self.log = structlog.get_logger("fleet.sync").bind(
            app=f"{spec.app.namespace}/{spec.app.name}", cluster=cluster
        )

    def _workers(self) -> int:
        """Objects compared or applied at once: `concurrency`, but no more than the cluster's
        adaptive limit has slots for, plus one. A worker beyond those would only wait for a
        slot (at 1,000 clusters a limit of 2 is common, and 16 workers per Application were 19
        task spawns and a dozen waiting events per sync, 3 % of the controller's CPU); the one
        extra keeps a request waiting while every slot is busy, which is what lets the limit
        grow (fleet.kube.adaptive)."""
        limit = getattr(self.api, "limit", None)
        if isinstance(limit, AdaptiveLimit):
            return max(1, min(self.concurrency, limit.limit + 1))
        return self.concurrency

    # -- compare -------------------------------------------------------------------------------

    def _apply_options(self, plan_options: frozenset[str]) -> applier.ApplyOptions:
        opts = self.spec.sync_options | plan_options
        return applier.ApplyOptions(
            force=True,
            validate="Validate=false" not in opts,
            replace="Replace=true" in opts,
            timeout=self.timeout,
        )

    async def _resolve(self, obj: Obj, wait: float = 0.0) -> tuple[Resource, Obj]:
        res = await self.discovery.resolve(
            str(obj.get("apiVersion", "")), str(obj.get("kind")), wait=wait
        )
        return res, self._stamped(res, obj)

    def _stamped(self, res: Resource, obj: Obj) -> Obj:
        """`obj` in the destination namespace (a namespaced kind without one), with fleet's
        tracking marks; a cluster-scoped kind loses any namespace."""
        meta = dict(obj.get("metadata") or {})
        if res.namespaced and not meta.get("namespace") and self.spec.namespace:
            meta["namespace"] = self.spec.namespace
        elif not res.namespaced:
            meta.pop("namespace", None)
        return stamp(self.spec.app, {**obj, "metadata": meta})

    async def predict(self, plan: Planned) -> Obj:
        """The object as it would be after fleet's apply (server-side dry run)."""
        assert plan.resource is not None
        opts = self._apply_options(plan.options)
        outgoing = self._outgoing(plan)
        if opts.replace:
            return await applier.replace(
                self.api, plan.resource, outgoing, plan.live, opts, dry_run=True
            )
        return await applier.server_side_apply(
            self.api, plan.resource, outgoing, opts, dry_run=True
        )

    def _outgoing(self, plan: Planned) -> Obj:
        """What is sent for `plan`: the desired object with ignoreDifferences' JSON pointers
        taken from the live object (fleet.sync.syncoptions.respect_ignored), so an HPA's
        replicas survive every apply."""
        return syncoptions.respect_ignored(plan.obj, plan.live, self.spec.ignore)

    async def plan(
        self,
        obj: Obj,
        *,
        wait: float = 0.0,
        live: Obj | None = None,
        resolved: tuple[Resource, Obj] | None = None,
        listed: bool = False,
    ) -> Planned:
        """Resolve and compare one desired object (GETs it unless `live` is given).

        `listed`: `live` comes from a listing of its type (a LIST or the shared watch's cache)
        that holds every object of this Application, so None means absent and no GET is sent:
        an apply creates it (or takes over an unlabelled one, which differs anyway by fleet's
        tracking label). Replace=true still reads, because its PUT needs the live version."""
        opts = _sync_options(obj)
        try:
            res, stamped = resolved or await self._resolve(obj, wait)
        except UnknownKind as error:
            return Planned(
                key_of(obj), stamp(self.spec.app, obj), None, None, True, str(error), opts
            )
        if live is None and not (listed and not self._apply_options(opts).replace):
            live = await applier.get(self.api, res, stamped, timeout=self.timeout)
        plan, desired = self._plan_locally(obj, (res, stamped), live, opts)
        return plan if desired is None else await self._dry_run(plan, desired)

    async def _dry_run(self, plan: Planned, desired: str) -> Planned:
        """Finish a plan `_plan_locally` could not settle: compare a server-side dry run of
        the desired object (`desired`: its fingerprint) with the live one."""
        live = plan.live
        assert live is not None  # a missing object is settled locally
        try:
            predicted = await self.predict(plan)
        except NotFound:  # e.g. its namespace does not exist yet
            plan.message = "dry run: not found"
            return plan
        except KubeError as error:
            plan.message = f"dry run failed: {error.message}"
            return plan
        plan.out_of_sync = differs(predicted, live, self.spec.ignore)
        if not plan.out_of_sync:
            self.mark_verified(plan.key, desired, live)
        else:
            plan.message = "differs: " + ", ".join(
                changed_paths(predicted, live, self.spec.ignore)[:5]
            )
        return plan

    def _plan_locally(
        self, obj: Obj, resolved: tuple[Resource, Obj], live: Obj | None, opts: frozenset[str]
    ) -> tuple[Planned, str | None]:
        """The plan as far as it goes without a request, and the desired document's
        fingerprint when a dry run must finish it; None when it is settled: the object is
        missing, or unchanged on both sides since fleet last verified it."""
        res, stamped = resolved
        key = key_of(stamped)
        plan = Planned(key, stamped, res, live, True, "", opts, manifest=obj, restamp=self._restamp)
        if live is None:
            plan.message = "missing"
            return plan, None
        desired = fingerprint(stamped)
        live_version = str(live["metadata"].get("resourceVersion", ""))
        if self.verified.get(key) == (desired, live_version):
            plan.out_of_sync = False  # unchanged on both sides since fleet last checked it
            return plan, None
        return plan, desired

    async def _inventory_resources(self, plans: dict[Key, Planned]) -> set[Resource]:
        found = {p.resource for p in plans.values() if p.resource is not None}
        for state in self.status.resources.values():
            api_version = f"{state.group}/{state.version}" if state.group else state.version
            try:
                found.add(await self.discovery.resolve(api_version, state.kind))
            except UnknownKind:
                continue
        return found

    async def compare(self, manifests: Sequence[Obj]) -> Comparison:
        """Compare every desired object with the cluster, and find what left Git.

        Live state comes from one labelled LIST per resource type (not a GET per object); an
        object unchanged on both sides since fleet last verified it (same desired document,
        same resourceVersion) needs no dry run, so a no-op resync costs a few LISTs.

        Hooks and `Skip` manifests are not desired state: they are left out (a live object of a
        skipped manifest is not pruned either; live hooks go to `Comparison.hooks`).
        """
        skipped = {key_of(obj) for obj in manifests if hooks.is_skipped(obj)}
        hook_kinds: set[Resource] = set()
        for obj in manifests:
            if hooks.is_hook(obj):  # listed too: the hooks earlier syncs left
                with contextlib.suppress(UnknownKind):
                    hook_kinds.add((await self._resolve(obj))[0])
        manifests = [o for o in manifests if not hooks.is_hook(o) and key_of(o) not in skipped]
        resolved: dict[int, tuple[Resource, Obj]] = {}
        for index, obj in enumerate(manifests):
            with contextlib.suppress(UnknownKind):
                resolved[index] = await self._resolve(obj)
        resources = {res for res, _ in resolved.values()} | hook_kinds
        resources |= await self._inventory_resources({})
        if self.open_cache is not None:
            await self.open_cache(resources)
        owned = await prune.list_owned(
            self.api,
            self.spec.app,
            resources,
            timeout=self.timeout,
            cache=self.live_cache,
            inventory=list(self.status.resources),
        )
        planned: dict[int, Planned] = {}
        unsettled: list[tuple[int, Obj | None, str | None]] = []
        for index, obj in enumerate(manifests):
            found = resolved.get(index)
            live = owned[key_of(found[1])][1] if found and key_of(found[1]) in owned else None
            opts = _sync_options(obj)
            if found is None or self._apply_options(opts).replace:
                unsettled.append((index, live, None))  # plan() reads or reports it
                continue
            # Most objects are settled here, in this task: a steady Application's resync
            # spawns no workers (spawning them was a sixth of a no-op compare's CPU).
            planned[index], desired = self._plan_locally(obj, found, live, opts)
            if desired is not None:
                unsettled.append((index, live, desired))  # a dry run finishes it

        async def one(item: tuple[int, Obj | None, str | None]) -> None:
            index, live, desired = item
            if desired is not None:
                await self._dry_run(planned[index], desired)
            else:
                planned[index] = await self.plan(
                    manifests[index], live=live, resolved=resolved.get(index), listed=True
                )

        await pool.each(unsettled, one, self._workers())
        plans = {planned[index].key: planned[index] for index in sorted(planned)}
        comparison = Comparison(plans)
        for key, found in owned.items():
            if key in plans or self._is_skipped(key, skipped):
                continue
            if hooks.is_hook(found[1]):
                comparison.hooks[key] = found
            else:
                comparison.extraneous[key] = found
        self._record_comparison(comparison)
        return comparison

    def _is_skipped(self, key: Key, skipped: set[Key]) -> bool:
        """Whether a live object is the one a `Skip` manifest names (which may leave out the
        namespace: the destination's)."""
        group, kind, namespace, name = key
        return key in skipped or (
            namespace == self.spec.namespace and (group, kind, "", name) in skipped
        )

    def _record_comparison(self, comparison: Comparison) -> None:
        states: dict[Key, ResourceState] = {}
        for key, plan in comparison.plans.items():
            health = appraise.assess(plan.live)
            version = str(plan.obj.get("apiVersion", "")).rpartition("/")[2]
            states[key] = ResourceState(
                key[0],
                version,
                key[1],
                key[2],
                key[3],
                "OutOfSync" if plan.out_of_sync else "Synced",
                health.status if health else None,
                health.message if health else "",
            )
        for key, (res, _live) in comparison.extraneous.items():
            states[key] = ResourceState(
                key[0], res.version, key[1], key[2], key[3], "OutOfSync", requires_pruning=True
            )
        for key, (res, live) in comparison.hooks.items():
            health = appraise.assess(live)
            states[key] = ResourceState(
                key[0], res.version, key[1], key[2], key[3], "Synced",
                health.status if health else None, health.message if health else "", hook=True,
            )  # fmt: skip
        self.status.resources = states
        self._summarize(comparison, {})
        self.status.sync_status = "Synced" if comparison.in_sync else "OutOfSync"
        self.refresh_health()
        self.desired = comparison.plans
        if self.on_kinds_changed is not None:
            self.on_kinds_changed()

    def _summarize(self, comparison: Comparison, applied: Mapping[Key, Obj]) -> None:
        """status.summary from the live objects as they are now: those `applied` since
        `comparison`, the rest as it saw them; extraneous objects a sync pruned left out."""
        self.status.summary = summarize(
            [applied.get(key, plan.live) for key, plan in comparison.plans.items()]
            + [
                live
                for key, (_res, live) in comparison.extraneous.items()
                if key in self.status.resources
            ]
            + [live for _res, live in comparison.hooks.values()]
        )

    def refresh_health(self) -> None:
        self.status.health = appraise.worst(
            s.health
            for s in self.status.resources.values()
            if s.health is not None and not s.requires_pruning and not s.hook
        )

    def refresh_sync_status(self) -> None:
        out = any(
            s.status == "OutOfSync" and not s.requires_pruning and not s.hook
            for s in self.status.resources.values()
        )
        self.status.sync_status = "OutOfSync" if out else self.status.sync_status
        if not out and not any(s.requires_pruning for s in self.status.resources.values()):
            self.status.sync_status = "Synced"

    # -- sync ----------------------------------------------------------------------------------

    async def sync(
        self,
        manifests: Sequence[Obj],
        revision: str = "",
        *,
        prune_enabled: bool | None = None,
        allow_empty: bool | None = None,
        comparison: Comparison | None = None,
        remove_hooks: bool = False,
        requested: dict[str, Any] | None = None,
        source: dict[str, Any] | None = None,
    ) -> Operation:
        """One sync operation, retried per `syncPolicy.retry`; returns the operation state.
        `requested`: what was asked, echoed in `operationState.operation`; `source`: the
        source synced, kept in the history entry.

        `comparison`: a `compare(manifests)` the caller just made, used by the first attempt
        instead of comparing again (retries always compare afresh). `remove_hooks`: also delete
        the hooks earlier syncs left (the Application is being deleted); a sync never prunes
        them otherwise."""
        log = self.log.bind(revision=revision)
        op = Operation(revision=revision, requested=requested or {}, source=source)
        self.status.operation = op
        stop = self._stop_retrying = anyio.Event()
        try:
            return await self._attempts(
                manifests, revision, op, log, prune_enabled, allow_empty, comparison, remove_hooks,
                stop,
            )  # fmt: skip
        finally:
            self._stop_retrying = None

    async def _attempts(
        self,
        manifests: Sequence[Obj],
        revision: str,
        op: Operation,
        log: Any,
        prune_enabled: bool | None,
        allow_empty: bool | None,
        comparison: Comparison | None,
        remove_hooks: bool,
        stop: anyio.Event,
    ) -> Operation:
        """The attempts of one sync, until success, the retry policy's end, or
        `stop_retrying` (checked after each failed attempt, so a stop asked mid-attempt also
        ends the sync at that attempt)."""
        policy = self.spec.retry
        attempt = 0
        while True:
            op.results = []
            try:
                async with self.write_lock:
                    await self._sync_once(
                        manifests, op, log, prune_enabled, allow_empty, comparison, remove_hooks
                    )
                comparison = None
                op.phase, op.message = "Succeeded", "successfully synced (all tasks run)"
                break
            except (SyncFailed, KubeError) as error:
                comparison = None
                op.message = str(error)
                log.warning("sync.attempt_failed", attempt=attempt, error=op.message)
            attempt += 1
            if not policy.allows(attempt):
                op.phase = "Failed"
                break
            op.retry_count = attempt
            delay = policy.backoff(attempt)
            op.message = f"{op.message} (retrying attempt #{attempt} after {delay:g}s)"
            with anyio.move_on_after(delay):
                await stop.wait()
            if stop.is_set():
                op.phase = "Failed"
                failure = op.message.rpartition(" (retrying")[0]
                op.message = f"{failure} (retries stopped: {self.stop_reason})"
                break
        op.finished_at = now()
        self.status.revision = revision
        if op.phase == "Succeeded":
            self.status.record_history(op, self.spec.history_limit)
        log.info("sync.finished", phase=op.phase, retries=op.retry_count, writes=self.writes)
        return op

    async def _ensure_namespace(self, comparison: Comparison | None = None) -> None:
        """CreateNamespace=true: create the destination namespace when it is absent. A live
        object of this Application in it (from `comparison`) shows it exists: no GET."""
        name = self.spec.namespace
        if not name or not self.spec.option("CreateNamespace"):
            return
        res = await self.discovery.resolve("v1", "Namespace")
        obj: Obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        managed = self.spec.namespace_metadata
        if managed:  # managedNamespaceMetadata: applied every sync, created or not
            obj["metadata"].update({k: dict(v) for k, v in managed.items()})
            await applier.server_side_apply(self.api, res, obj, self._apply_options(NO_OPTIONS))
            self.writes += 1
        elif comparison is not None and any(
            plan.live is not None and plan.key[2] == name for plan in comparison.plans.values()
        ):
            return
        elif await applier.create_if_absent(self.api, res, obj, self._apply_options(NO_OPTIONS)):
            # Not tracked on purpose: a namespace fleet creates for the app is never pruned.
            self.writes += 1

    async def write(self, plan: Planned) -> Obj:
        """Apply one planned object (SSA, or PUT with Replace=true)."""
        assert plan.resource is not None
        opts = self._apply_options(plan.options)
        outgoing = self._outgoing(plan)
        if opts.replace:
            result = await applier.replace(self.api, plan.resource, outgoing, plan.live, opts)
        else:
            result = await applier.server_side_apply(self.api, plan.resource, outgoing, opts)
        self.writes += 1
        self.mark_verified(plan.key, fingerprint(plan.obj), result)
        return result

    def release_stamped(self) -> None:
        """Drop the stamped desired objects until they are next used (see Planned): for the
        controller once it is done with a compare or sync."""
        for plan in self.desired.values():
            plan.release()

    def mark_verified(self, key: Key, desired: str, live: Obj) -> None:
        """`live` is what fleet wants (just written, or checked by a dry run); `desired` is
        the desired object's `fingerprint`."""
        version = str((live.get("metadata") or {}).get("resourceVersion", ""))
        self.verified[key] = (desired, version)
        found = shape(live)
        if found is None:
            self.shapes.pop(key, None)
        else:
            self.shapes[key] = found

    async def _sync_once(
        self,
        manifests: Sequence[Obj],
        op: Operation,
        log: Any,
        prune_enabled: bool | None,
        allow_empty: bool | None,
        comparison: Comparison | None = None,
        remove_hooks: bool = False,
    ) -> None:
        if comparison is None:
            comparison = await self.compare(manifests)
        plan = hookrun.plan(manifests, op.revision, op.started_at)
        runner = hookrun.HookRunner(self)
        applied: dict[Key, Obj] = {}
        try:
            await self._ensure_namespace(comparison)
            await self._refuse_shared(comparison)
            await self._run_hooks(runner, plan.phase(hooks.PRE_SYNC), op)
            await self._apply_waves(comparison, runner, plan.phase(hooks.SYNC), op, applied)
            await self._prune(comparison, op, prune_enabled, allow_empty, remove_hooks)
            await self._run_hooks(runner, plan.phase(hooks.POST_SYNC), op)
        except (SyncFailed, KubeError) as error:
            # Argo CD: a failed sync runs the SyncFail hooks; the phases after the failure do not
            # run (so a failed PreSync leaves the running version alone).
            tasks = plan.phase(hooks.SYNC_FAIL)
            if tasks:
                try:
                    await self._run_hooks(runner, tasks, op)
                except (SyncFailed, KubeError) as fail_error:
                    raise SyncFailed(f"{error}; {fail_error}") from error
            raise
        finally:
            self._record_hooks(plan)
            self._summarize(comparison, applied)  # what this attempt changed, even if it failed
        self.refresh_sync_status()
        self.refresh_health()
        log.debug("sync.once_done", results=len(op.results))

    def _record_hooks(self, plan: hookrun.HookPlan) -> None:
        """The hooks this sync left on the cluster, in `status.resources` (`hook: true`), so a
        later deletion of the Application finds them before any compare."""
        for tasks in plan.by_phase.values():
            for task in tasks:
                if task.live is None or task.resource is None:
                    continue
                health = appraise.assess(task.live)
                group, kind, namespace, name = task.key
                self.status.resources[task.key] = ResourceState(
                    group, task.resource.version, kind, namespace, name, "Synced",
                    health.status if health else None, health.message if health else "",
                    hook=True,
                )  # fmt: skip

    def stop_retrying(self, reason: str) -> None:
        """End a sync that waits to retry (the Application is being deleted): its backoff
        could otherwise hold the Application's reconcile, and so its deletion, for minutes."""
        if self._stop_retrying is not None:
            self.stop_reason = reason
            self._stop_retrying.set()

    async def report_progress(self) -> None:
        """Best effort: a failed status write never fails the sync (the final one follows)."""
        if self.on_progress is None:
            return
        try:
            await self.on_progress()
        except KubeError as error:
            self.log.warning("sync.progress_not_written", error=error.message)

    async def _run_hooks(
        self, runner: hookrun.HookRunner, tasks: Sequence[hookrun.HookTask], op: Operation
    ) -> None:
        try:
            await runner.run(tasks, op.results)
        except hookrun.HookFailed as error:
            raise SyncFailed(f"{HOOK_FAILURE}: {error}") from error

    async def _apply_waves(
        self,
        comparison: Comparison,
        runner: hookrun.HookRunner,
        sync_hooks: Sequence[hookrun.HookTask],
        op: Operation,
        applied_so_far: dict[Key, Obj],
    ) -> None:
        """The Sync phase: each wave's objects applied, its Sync hooks started, then both waited
        for (objects Healthy, hooks finished) before the next wave. What each apply returned
        is added to `applied_so_far`."""
        by_id = {id(p.obj): p for p in comparison.plans.values()}
        steps: dict[tuple[int, int], list[Planned]] = {}
        for step in ordering.waves([p.obj for p in comparison.plans.values()]):
            steps[ordering.sort_key(step[0])[:2]] = [by_id[id(o)] for o in step]
        hook_steps: dict[tuple[int, int], list[hookrun.HookTask]] = {}
        for task in sync_hooks:
            hook_steps.setdefault(ordering.sort_key(task.obj)[:2], []).append(task)
        failures: list[str] = []
        for step_key in sorted(set(steps) | set(hook_steps)):
            step_plans = steps.get(step_key, [])
            applied = await self._apply_step(step_plans, op, failures)
            applied_so_far.update(applied)
            if failures:
                raise SyncFailed("; ".join(failures[:5]))
            step_hooks = hook_steps.get(step_key, [])
            try:
                if step_hooks:
                    await runner.start(step_hooks, op.results)
                await self._wait_healthy(step_plans, applied)
                if step_hooks:
                    await runner.wait(step_hooks)
            except hookrun.HookFailed as error:
                raise SyncFailed(f"{HOOK_FAILURE}: {error}") from error

    async def _apply_step(
        self, step: list[Planned], op: Operation, failures: list[str]
    ) -> dict[Key, Obj]:
        """Apply the out-of-sync objects of one step, kind by kind (each kind concurrently)."""
        applied: dict[Key, Obj] = {}
        groups: dict[tuple[int, int, int, str], list[Planned]] = {}
        for plan in step:
            groups.setdefault(ordering.sort_key(plan.obj)[:4], []).append(plan)

        async def one(plan: Planned) -> None:
            if plan.resource is None:  # a custom resource whose CRD was just applied
                fresh = await self.plan(plan.obj, wait=10.0)
                plan.adopt(fresh)
            if not plan.out_of_sync:
                return
            wave = ordering.wave_of(plan.obj)
            try:
                applied[plan.key] = await self.write(plan)
            except KubeError as error:
                failures.append(f"{describe(plan.key)}: {error.message}")
                op.results.append(self._result(plan, "SyncFailed", error.message, wave))
                return
            verb = "created" if plan.live is None else "configured"
            op.results.append(self._result(plan, "Synced", f"{plan.key[1].lower()} {verb}", wave))
            self._mark(plan.key, "Synced", applied[plan.key])

        for key in sorted(groups):
            await pool.each(groups[key], one, self._workers())
        return applied

    def _result(self, plan: Planned, status: str, message: str, wave: int) -> ResourceResult:
        version = str(plan.obj.get("apiVersion", "")).rpartition("/")[2]
        g, k, ns, name = plan.key
        return ResourceResult(g, version, k, ns, name, status, message, wave=wave)

    def _mark(self, key: Key, sync: str, live: Obj | None) -> None:
        state = self.status.resources.get(key)
        if state is None:
            return
        state.status = sync
        health = appraise.assess(live)
        state.health = health.status if health else None
        state.health_message = health.message if health else ""

    async def _wait_healthy(self, step: list[Planned], applied: dict[Key, Obj]) -> None:
        """Gate between waves: every object of the step Healthy (or without health)."""
        pending: dict[Key, Planned] = {}
        for plan in step:
            latest = applied.get(plan.key, plan.live)
            health = appraise.assess(latest)
            if health is None or health.status in ("Healthy", "Suspended"):
                continue
            if health.status == "Degraded" and plan.key not in applied:
                raise SyncFailed(f"{describe(plan.key)} is Degraded: {health.message}")
            pending[plan.key] = plan
        if not pending:
            return
        with anyio.move_on_after(self.wave_timeout) as scope:
            while pending:
                await anyio.sleep(self.health_interval)
                for key, plan in list(pending.items()):
                    assert plan.resource is not None
                    cached = self._cached_since(plan, applied.get(key, plan.live))
                    if cached is False:
                        continue  # the watch has not seen the applied version yet
                    live = (
                        cached
                        if isinstance(cached, dict)
                        else await applier.get(
                            self.api, plan.resource, plan.obj, timeout=self.timeout
                        )
                    )
                    self._mark(key, "Synced", live)
                    health = appraise.assess(live)
                    if health is None or health.status in ("Healthy", "Suspended"):
                        del pending[key]
                    elif health.status == "Degraded":
                        self.refresh_health()
                        raise SyncFailed(f"{describe(key)} is Degraded: {health.message}")
        if scope.cancelled_caught:
            names = ", ".join(describe(k) for k in list(pending)[:3])
            raise SyncFailed(f"wave not healthy after {self.wave_timeout:g}s: {names}")

    def _cached_since(self, plan: Planned, seen: Obj | None) -> Obj | bool:
        """The object of `plan` as the shared watch holds it, if at least as new as `seen` (what
        the apply returned): the health gate then costs no GET. False: the watch is behind
        (wait); True: no watch of this type, or versions not comparable (GET it)."""
        if self.live_cache is None or plan.resource is None:
            return True
        items = self.live_cache(plan.resource)
        if items is None:
            return True
        floor = str(((seen or {}).get("metadata") or {}).get("resourceVersion") or "0")
        for item in items:
            meta = item.get("metadata") or {}
            if (meta.get("namespace") or "", meta.get("name")) != (plan.key[2], plan.key[3]):
                continue
            version = str(meta.get("resourceVersion") or "")
            if not (version.isdigit() and floor.isdigit()):
                return True
            if int(version) < int(floor):
                return False
            item.setdefault("apiVersion", plan.resource.api_version)
            item.setdefault("kind", plan.resource.kind)
            return item
        return False

    async def _refuse_shared(self, comparison: Comparison) -> None:
        """FailOnSharedResource=true: fail before any write when a desired object is already
        part of another Application (its tracking annotation names that one). The comparison
        lists only this Application's objects, so the others are read here."""
        if not self.spec.option("FailOnSharedResource"):
            return
        shared = []
        for key, plan in sorted(comparison.plans.items()):
            live = plan.live
            if live is None and plan.resource is not None:
                live = await applier.get(self.api, plan.resource, plan.obj, timeout=self.timeout)
            owner = syncoptions.shared_owner(self.spec.app, live)
            if owner is not None:
                shared.append(f"{describe(key)} is part of Application {owner}")
        if shared:
            raise SyncFailed(
                "shared resource found (FailOnSharedResource=true): " + "; ".join(shared[:5])
            )

    async def _prune(
        self,
        comparison: Comparison,
        op: Operation,
        enabled: bool | None,
        allow_empty: bool | None,
        remove_hooks: bool = False,
    ) -> None:
        """Delete what left Git (reverse apply order), honouring Prune=false and allowEmpty;
        with `remove_hooks`, the live hooks too."""
        do_prune = self.spec.prune if enabled is None else enabled
        allowed = self.spec.allow_empty if allow_empty is None else allow_empty
        self.status.clear_condition("SyncError")
        if remove_hooks:
            for key, (res, live) in comparison.hooks.items():
                await applier.delete(
                    self.api, res, live, propagation="Background", timeout=self.timeout
                )
                self.writes += 1
                self.status.resources.pop(key, None)
        if not comparison.plans and not allowed:
            if comparison.extraneous:
                self.status.set_condition(
                    "SyncError", "the render is empty: nothing pruned (set allowEmpty to allow)"
                )
            return
        policy = prune.propagation(self.spec.sync_options)
        for key, (res, live) in sorted(
            comparison.extraneous.items(), key=lambda kv: ordering.sort_key(kv[1][1]), reverse=True
        ):
            g, k, ns, name = key
            kept = syncoptions.keeps(live, self.spec.sync_options, deleting=remove_hooks)
            if kept is not None:  # Prune=false (resource or Application), Delete=false
                op.results.append(
                    ResourceResult(
                        g, res.version, k, ns, name, "PruneSkipped", f"ignored ({kept})", "Sync"
                    )
                )
                continue
            if not do_prune:
                op.results.append(
                    ResourceResult(
                        g,
                        res.version,
                        k,
                        ns,
                        name,
                        "PruneSkipped",
                        "ignored (requires pruning)",
                        "Sync",
                    )
                )
                continue
            await applier.delete(self.api, res, live, propagation=policy, timeout=self.timeout)
            self.writes += 1
            self.status.resources.pop(key, None)
            op.results.append(ResourceResult(g, res.version, k, ns, name, "Pruned", "pruned"))
