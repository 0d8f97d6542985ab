"""The Application controller: every Application on the hub reconciled against its cluster.

One reconcile of one Application: check the spec, the destination and the Project; resolve the
source to a commit and render it (`desired.py`); compare with the cluster through the sync
engine; sync when asked (`operation`, Argo CD's field) or when automated sync finds a
difference; write `status` back to the hub only when it changed. Work arrives through a
WorkQueue keyed by Application name and grouped by destination, so one slow or dead cluster
holds only its own slots; a reconcile that fails is retried with per-key backoff, and each
Application is looked at again every resync period.

Safety: nothing is applied or pruned unless the desired state is fully known. A git, render,
project or cluster error is written to `status.conditions` and changes nothing on the cluster.
So is any other exception a reconcile raises (a condition naming its type, the details in the
log): no reason an Application is not progressing is only in the log. Every status written is
redacted first (fleet.redaction): no credential from a repoURL or an error reaches it.
Deleting an Application that carries Argo CD's resources finalizer deletes what it deployed
first; without the finalizer its resources stay (preserveResourcesOnDeletion).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
import structlog
from anyio.abc import TaskGroup, TaskStatus
from kubernetes_asyncio.client import ApiClient

from fleet.api.application import (
    Application,
    InvalidApplicationError,
    UnknownDestinationError,
    parse_application,
    resolve_destination,
)
from fleet.api.group import ARGOCD_GROUP, FLEET, ApiFlavour
from fleet.api.project import InvalidProjectError, Project, default_project, parse_project
from fleet.api.resources import REFRESH_ANNOTATION, RESOURCES_FINALIZER
from fleet.clusters.manager import ClusterManager
from fleet.controllers.app_events import EventSink, event_basis, status_events
from fleet.controllers.desired import Desired, DesiredCache, DesiredStateError, source_of
from fleet.controllers.repos import RepoHub
from fleet.controllers.shared_objects import SharedObjects
from fleet.controllers.workqueue import WorkQueue
from fleet.git.errors import GitFetchError
from fleet.git.events import RepoMoved
from fleet.git.urls import normalize_url
from fleet.kube import KubeError, NotFound, request_json
from fleet.kube.events import ObjectRef
from fleet.kube.watch import list_and_watch
from fleet.redaction import redact_status
from fleet.render import RenderReach, RenderTools
from fleet.server.metrics import Metrics
from fleet.sync import syncoptions
from fleet.sync.discovery import UnknownKind
from fleet.sync.engine import Comparison, SyncEngine
from fleet.sync.hooks import has_hooks
from fleet.sync.selfheal import SelfHealer
from fleet.sync.spec import AppSpec
from fleet.sync.status import (
    AppStatus,
    Operation,
    compared_to,
    echoed_source,
    now,
    requested_operation,
)
from fleet.sync.summary import links
from fleet.sync.tracking import argocd_instance_name
from fleet.sync.watchhub import WatchHub

log = structlog.get_logger("fleet.applications")

Obj = dict[str, Any]

# Conditions this controller owns (Argo CD's types); the engine owns SyncError.
INVALID_SPEC = "InvalidSpecError"
COMPARISON_ERROR = "ComparisonError"
OWN_CONDITIONS = (INVALID_SPEC, COMPARISON_ERROR)


@dataclass(frozen=True)
class AppControllerSettings:
    resync_period: float = 180.0
    """Every Application is compared again this often without any event (Argo CD's default)."""
    workers: int = 128
    per_cluster: int = 4
    """Reconciles running at once against one destination cluster."""
    reconcile_timeout: float = 900.0
    """Upper bound of one reconcile, sync waves included."""
    wave_timeout: float = 120.0
    health_interval: float = 0.25
    in_cluster_enabled: bool = True
    """Argo CD's `cluster.inClusterEnabled`: off, `https://kubernetes.default.svc` and
    `in-cluster` destinations are refused with Argo CD's message (`--no-in-cluster`)."""
    argocd_tracking: str = "annotation"
    """Argo CD mode: its `application.resourceTrackingMethod` (annotation, annotation+label or
    label), how the objects Argo CD deployed are recognised (fleet.sync.tracking)."""


class Blocked(Exception):
    """The Application cannot be compared or synced now; the reason goes to its conditions."""

    def __init__(self, condition: str, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.condition = condition
        self.retry = retry
        """True: a transient cause (git, cluster), retried with backoff; False: the spec or
        the project must change first (an event will requeue it)."""


@dataclass
class _Runtime:
    """What the controller keeps for one Application between reconciles."""

    status: AppStatus
    engine: SyncEngine | None = None
    cluster: str = ""
    spec_fingerprint: str = ""
    healer: SelfHealer | None = None
    failed_revision: str = ""
    written: str = ""
    """Digest of the last status document written (without its timestamps)."""
    written_basis: dict[str, Any] = field(default_factory=dict)
    """What the Events of the next status change compare with (app_events.event_basis)."""
    synced_target: str | None = None
    """[source, destination] of the last sync (JSON): a sync of the same revision to the
    same target is not repeated by automated sync without selfHeal."""


def _fingerprint(app: Mapping[str, Any]) -> str:
    return json.dumps(app.get("spec") or {}, sort_keys=True)


def _deleting(app: Mapping[str, Any]) -> bool:
    return bool((app.get("metadata") or {}).get("deletionTimestamp"))


def refresh_requested(app: Mapping[str, Any]) -> str | None:
    """Argo CD's `argocd.argoproj.io/refresh` annotation: None when absent, "hard" for hard,
    "normal" for any other value (Argo CD reads anything but `hard` as a normal refresh)."""
    annotations = (app.get("metadata") or {}).get("annotations")
    if not isinstance(annotations, Mapping) or REFRESH_ANNOTATION not in annotations:
        return None
    return "hard" if annotations[REFRESH_ANNOTATION] == "hard" else "normal"


def _group(app: Mapping[str, Any]) -> str:
    """The fairness bucket of an Application: its destination as written (no lookup needed)."""
    dest = (app.get("spec") or {}).get("destination") or {}
    return str(dest.get("name") or dest.get("server") or "")


def _trigger_fields(app: Mapping[str, Any]) -> str:
    """What makes a watch event worth a reconcile: not our own status writes."""
    meta = app.get("metadata") or {}
    # The notifier's record of what it sent (fleet.notify.state) changes nothing to reconcile.
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k != "notified.notifications.argoproj.io"
    }
    # Not metadata.generation: without a status subresource (Argo CD's Application CRD) every
    # status write bumps it; spec and operation below are what moves it otherwise.
    return json.dumps(
        [
            meta.get("deletionTimestamp"),
            meta.get("finalizers"),
            annotations,
            app.get("operation"),
            app.get("spec"),
        ],
        sort_keys=True,
        default=str,
    )


class ApplicationController:
    def __init__(
        self,
        hub: ApiClient,
        namespace: str,
        *,
        manager: ClusterManager,
        clusters: Callable[[], Iterable[tuple[str, str]]],
        repos: RepoHub,
        tools: RenderTools,
        settings: AppControllerSettings | None = None,
        metrics: Metrics | None = None,
        owns: Callable[[str], bool] | None = None,
        flavour: ApiFlavour = FLEET,
        shared: SharedObjects | None = None,
    ) -> None:
        """`shared`: Application versions shared with the process's other Application watch
        (the ApplicationSet controller's), so each version is held once."""
        self.hub = hub
        self.namespace = namespace
        self.shared = shared if shared is not None else SharedObjects()
        self.flavour = flavour
        """Which API group's Applications and Projects (fleet's, or Argo CD's with --api argocd)."""
        self.manager = manager
        self.clusters = clusters
        """(name, server) of every registered cluster."""
        self.repos = repos
        self.tools = tools
        self.settings = settings or AppControllerSettings()
        self.metrics = metrics
        # -- sharding hook (fleet.controllers.sharding) --
        self.owns: Callable[[str], bool] = owns or (lambda cluster: True)
        """Whether this replica reconciles the Applications of a cluster ("" = destination
        not resolvable: the leader's). Default: one replica owns every cluster."""
        # -- end sharding hook --
        self.apps: dict[str, Obj] = {}
        self.observers: list[Callable[[str, Obj | None], None]] = []
        """Called with (name, object or None when deleted) for every hub event on an
        Application, status writes included: the dashboard's feed (fleet.server.dashboard)."""
        self.projects: dict[str, Obj] = {}
        self.queue = WorkQueue(
            self.reconcile,
            workers=self.settings.workers,
            per_group=self.settings.per_cluster,
            name="applications",
        )
        self.synced = anyio.Event()
        self.desired = DesiredCache()
        self.watches = WatchHub()
        """One watch per (cluster, kind) shared by every Application's self-healer."""
        self._runtimes: dict[str, _Runtime] = {}
        self.events = EventSink(hub)
        """Kubernetes Events for status changes (sync, health, drift, hooks), written apart."""
        self._listed: set[str] = set()
        self._tg: TaskGroup | None = None

    # -- running ---------------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Watch Applications and Projects, reconcile through the queue, until cancelled."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            await tg.start(self.watches.run)
            await tg.start(self.events.run)
            await tg.start(self.queue.run)
            tg.start_soon(self._watch_projects)
            tg.start_soon(self._watch_apps)
            tg.start_soon(self._follow_repos)
            await self.synced.wait()
            task_status.started()

    async def drain(self, timeout: float) -> None:
        """Stop starting reconciles and wait (up to `timeout`) for the running ones: a
        SIGTERM lets in-flight applies finish instead of cutting them off midway."""
        self.queue.pause()
        with anyio.move_on_after(timeout):
            while self.queue.running:
                await anyio.sleep(0.05)

    def _mark_listed(self, which: str) -> None:
        self._listed.add(which)
        if {"applications", "projects"} <= self._listed:
            self.synced.set()

    async def _watch_apps(self) -> None:
        async def reset(items: list[Obj]) -> None:
            names = {str(i["metadata"]["name"]) for i in items}
            for gone in set(self.apps) - names:
                self.apps.pop(gone, None)
                self.queue.add(gone)
                for observer in self.observers:
                    observer(gone, None)
            for item in items:
                await event("ADDED", item)
            self._mark_listed("applications")

        async def event(kind: str, obj: Obj) -> None:
            name = str(obj["metadata"]["name"])
            old = self.apps.get(name)
            if kind != "DELETED":
                obj = self.shared.share(obj)
            for observer in self.observers:
                observer(name, None if kind == "DELETED" else obj)
            if kind == "DELETED":
                self.shared.forget(obj)
                self.apps.pop(name, None)
                self.queue.add(name)
                return
            self.apps[name] = obj
            rt = self._runtimes.get(name)
            if rt is not None and rt.engine is not None and _deleting(obj):
                rt.engine.stop_retrying("the Application is being deleted")
            if old is None or _trigger_fields(old) != _trigger_fields(obj):
                self.queue.add(name, group=_group(obj))

        await list_and_watch(
            self.hub,
            self.flavour.application.collection(self.namespace),
            on_reset=reset,
            on_event=event,
        )

    async def _watch_projects(self) -> None:
        async def reset(items: list[Obj]) -> None:
            before = dict(self.projects)
            self.projects = {str(i["metadata"]["name"]): i for i in items}
            for name in set(before) | set(self.projects):
                if before.get(name) != self.projects.get(name):
                    self.project_changed(name)
            self._mark_listed("projects")

        async def event(kind: str, obj: Obj) -> None:
            name = str(obj["metadata"]["name"])
            if kind == "DELETED":
                self.projects.pop(name, None)
            else:
                self.projects[name] = obj
            self.project_changed(name)

        await list_and_watch(
            self.hub,
            self.flavour.project.collection(self.namespace),
            on_reset=reset,
            on_event=event,
        )

    async def _follow_repos(self) -> None:
        async with self.repos.subscribe() as events:
            async for moved in events:
                self.repo_moved(moved)

    # -- triggers --------------------------------------------------------------------------------

    def project_changed(self, project: str) -> None:
        for name, app in self.apps.items():
            if str((app.get("spec") or {}).get("project") or "default") == project:
                self.queue.add(name, group=_group(app))

    def clusters_changed(self) -> None:
        """Every Application may be affected (e.g. this replica's shards changed)."""
        for name, app in self.apps.items():
            self.queue.add(name, group=_group(app))

    def cluster_changed(self, cluster: str, server: str) -> None:
        """One cluster was added, removed, changed or became Ready: its Applications, found
        by destination name or server URL, look again now."""
        server = server.rstrip("/")
        for name, app in self.apps.items():
            dest = (app.get("spec") or {}).get("destination") or {}
            by_name = dest.get("name") == cluster
            by_server = bool(server) and str(dest.get("server") or "").rstrip("/") == server
            if by_name or by_server:
                self.queue.add(name, group=_group(app))

    def repo_moved(self, moved: RepoMoved) -> None:
        url = normalize_url(moved.repo_url)
        for name, app in self.apps.items():
            source = (app.get("spec") or {}).get("source") or {}
            if normalize_url(str(source.get("repoURL") or "")) == url:
                self.queue.add(name, group=_group(app))

    # -- one reconcile ---------------------------------------------------------------------------

    def _resync(self) -> float:
        period = self.settings.resync_period
        return period * (1 + random.uniform(-0.1, 0.1))

    async def reconcile(self, name: str) -> float | None:
        started = time.monotonic()
        result = "error"
        try:
            with anyio.fail_after(self.settings.reconcile_timeout):
                after = await self._reconcile(name)
            result = "ok"
            return after
        except Blocked:
            raise  # already in the Application's status
        except Exception as error:
            await self._unexpected(name, error)
            raise  # the work queue backs off and retries
        finally:
            if self.metrics is not None:
                self.metrics.reconciles.labels("application", result).inc()
                self.metrics.reconcile_seconds.labels("application").observe(
                    time.monotonic() - started
                )

    async def _reconcile(self, name: str) -> float | None:
        app = self.apps.get(name)
        if app is None:
            self._drop(name)
            return None
        # -- sharding hook: another replica's cluster -> forget it here, write nothing --
        if not self.owns(self._owner_cluster(app)):
            self._drop(name)
            return None
        # -- end sharding hook --
        rt = self._runtimes.get(name)
        if rt is None:
            rt = self._runtimes[name] = _Runtime(AppStatus.from_dict(app.get("status")))
            rt.written = self._comparable(app.get("status") or {})
            rt.written_basis = event_basis(app.get("status") or {})
        if (app.get("metadata") or {}).get("deletionTimestamp"):
            await self._finalize(name, app, rt)
            return None
        log_ = log.bind(app=f"{self.namespace}/{name}")
        refresh = refresh_requested(app)
        try:
            cluster, project = self._admit(app)
            operation = app.get("operation") if isinstance(app.get("operation"), dict) else None
            revision = str(((operation or {}).get("sync") or {}).get("revision") or "")
            try:
                if refresh is not None:
                    await self._fetch_now(app)
                desired = await self.desired.get(
                    app,
                    self.repos,
                    self.tools,
                    revision=revision,
                    reach=RenderReach.of(project),
                    fresh=refresh == "hard",
                )
            except DesiredStateError as error:
                raise Blocked(COMPARISON_ERROR, str(error), retry=True) from error
            await self._compare_and_sync(name, app, rt, cluster, project, desired, operation)
        except Blocked as blocked:
            await self._blocked(name, app, rt, blocked)
            if refresh is not None and not blocked.retry:
                await self._refreshed(name)  # a spec error: fetching again cannot help
            if blocked.retry:
                raise
            return self._resync()
        if refresh is not None:
            await self._refreshed(name)
        log_.debug("application.reconciled", sync=rt.status.sync_status, health=rt.status.health)
        return self._resync()

    async def _fetch_now(self, app: Obj) -> None:
        """Argo CD's refresh: the source's repository fetched now, not at the next poll."""
        url = str(source_of(app)["repoURL"])
        try:
            await self.repos.refresh(url)
        except GitFetchError as error:
            raise DesiredStateError("GitError", f"spec.source: refresh: {error}") from error

    async def _refreshed(self, name: str) -> None:
        """Remove the refresh annotation once its compare is in status, as Argo CD does: it is
        a one-shot request (`kubectl annotate ... argocd.argoproj.io/refresh=hard`), and left
        in place it would fetch and render afresh on every reconcile. Unlike Argo CD, a refresh
        whose fetch or render failed keeps it: the queue's backoff retries the refresh until
        it succeeds, and the condition says why meanwhile."""
        with contextlib.suppress(NotFound):  # deleted meanwhile
            await request_json(
                self.hub,
                "PATCH",
                self.flavour.application.item(self.namespace, name),
                body={"metadata": {"annotations": {REFRESH_ANNOTATION: None}}},
                content_type="application/merge-patch+json",
            )

    async def _unexpected(self, name: str, error: Exception) -> None:
        """Put an error no other branch reported into the Application's status: a condition
        naming the exception's type (the traceback goes to the log, not to the hub)."""
        app = self.apps.get(name)
        rt = self._runtimes.get(name)
        if app is None or rt is None or (app.get("metadata") or {}).get("deletionTimestamp"):
            return
        if isinstance(error, TimeoutError):
            message = (
                f"the reconcile did not finish within {self.settings.reconcile_timeout:g}s; "
                "it is retried"
            )
        else:
            message = (
                f"unexpected {type(error).__name__} while reconciling (details in the "
                "controller log); it is retried"
            )
        log.warning(
            "application.reconcile_failed",
            app=f"{self.namespace}/{name}",
            error_type=type(error).__name__,
            exc_info=error,
        )
        try:
            await self._blocked(name, app, rt, Blocked(COMPARISON_ERROR, message, retry=True))
        except Exception as write_error:  # the hub itself failing: the queue's backoff retries
            log.warning(
                "application.status_write_failed",
                app=f"{self.namespace}/{name}",
                error=str(write_error) or type(write_error).__name__,
            )

    # -- sharding hook --
    def _owner_cluster(self, app: Obj) -> str:
        """The registered cluster whose owner reconciles `app`; "" if none resolves."""
        try:
            return self._resolve(parse_application(app))
        except (InvalidApplicationError, UnknownDestinationError):
            return ""

    def managed(self) -> dict[str, str]:
        """Application -> cluster of every Application this replica has an engine for."""
        return {n: rt.cluster for n, rt in self._runtimes.items() if rt.engine is not None}

    # -- end sharding hook --

    def _resolve(self, parsed: Application) -> str:
        return resolve_destination(
            parsed, self.clusters(), in_cluster_enabled=self.settings.in_cluster_enabled
        )

    def _admit(self, app: Obj) -> tuple[str, Project]:
        """The destination cluster and the Project, or Blocked saying what is wrong."""
        try:
            parsed = parse_application(app)
            cluster = self._resolve(parsed)
        except (InvalidApplicationError, UnknownDestinationError) as error:
            raise Blocked(INVALID_SPEC, str(error)) from error
        project = self._project(parsed.project)
        server = dict(self.clusters()).get(cluster, "")
        problems = project.violations(app, cluster_name=cluster, cluster_server=server)
        if problems:
            raise Blocked(INVALID_SPEC, "; ".join(problems))
        return cluster, project

    def _project(self, name: str) -> Project:
        raw = self.projects.get(name)
        if raw is None:
            if name == "default":
                return default_project()
            raise Blocked(
                INVALID_SPEC, f"Application referencing project {name} which does not exist"
            )
        try:
            return parse_project(raw)
        except InvalidProjectError as error:
            raise Blocked(INVALID_SPEC, f"project {name}: {error}") from error

    def _engine(self, rt: _Runtime, app: Obj, cluster: str, api: ApiClient) -> SyncEngine:
        """The Application's engine, rebuilt when its cluster, client or spec changed (it caches
        discovery and what it verified, which a different cluster or spec invalidates)."""
        fingerprint = _fingerprint(app)
        engine = rt.engine
        if (
            engine is None
            or rt.cluster != cluster
            or engine.api is not api
            or rt.spec_fingerprint != fingerprint
        ):
            self._stop_healer(rt)
            engine = SyncEngine(
                api,
                self._app_spec(app),
                cluster=cluster,
                wave_timeout=self.settings.wave_timeout,
                health_interval=self.settings.health_interval,
            )
            engine.status = rt.status
            label = engine.spec.app.label_value
            if not engine.spec.reads_managed_fields:  # the shared caches hold none
                engine.live_cache = lambda res: self.watches.snapshot(api, res, label)
                engine.open_cache = lambda resources: self.watches.prime(api, resources)
            name = str((app.get("metadata") or {}).get("name", ""))
            engine.on_progress = lambda: self._write_status(name, rt)  # hooks Running
            rt.engine, rt.cluster, rt.spec_fingerprint = engine, cluster, fingerprint
        return engine

    def _app_spec(self, app: Obj) -> AppSpec:
        """The engine's view of `app`. In Argo CD mode its ownership also accepts Argo CD's
        tracking marks, so what Argo CD deployed is adopted (and pruned when it leaves Git)
        instead of being left behind or seen as someone else's."""
        spec = AppSpec.from_application(app)
        if self.flavour.group != ARGOCD_GROUP:
            return spec
        ref = replace(
            spec.app,
            argocd_instance=argocd_instance_name(spec.app.namespace, spec.app.name, self.namespace),
            argocd_label_tracking=self.settings.argocd_tracking == "label",
        )
        return replace(spec, app=ref)

    async def _compare_and_sync(
        self,
        name: str,
        app: Obj,
        rt: _Runtime,
        cluster: str,
        project: Project,
        desired: Desired,
        operation: Obj | None,
    ) -> None:
        try:
            async with self.manager.use(cluster) as api:
                engine = self._engine(rt, app, cluster, api)
                try:
                    await self._check_kinds(engine, project, desired)
                    await self._compare_or_operate(name, engine, rt, app, desired, operation)
                finally:
                    engine.release_stamped()
        except KubeError as error:
            raise Blocked(
                COMPARISON_ERROR, f"cluster {cluster!r}: {error.message or error}", retry=True
            ) from error
        rt.status.clear_condition(INVALID_SPEC)
        rt.status.clear_condition(COMPARISON_ERROR)
        rt.status.compared_to = compared_to(app.get("spec") or {})
        rt.status.source_type = desired.source_type
        await self._write_status(name, rt)
        if operation is not None:
            await self._clear_operation(name)
        # Always watched: drift is healed with automated selfHeal, and otherwise still seen
        # within seconds (the Application turns OutOfSync), as with Argo CD's live cache.
        await self._ensure_healer(name, rt)

    async def _compare_or_operate(
        self,
        name: str,
        engine: SyncEngine,
        rt: _Runtime,
        app: Obj,
        desired: Desired,
        operation: Obj | None,
    ) -> None:
        """The requested operation, or else a compare and, where automated sync wants it, a
        sync."""
        refused = syncoptions.manifest_problems(desired.manifests)
        if refused:  # never silently ignored: the object and the option are named
            raise Blocked(COMPARISON_ERROR, "; ".join(refused[:5]))
        if operation is not None:
            await self._operate(name, engine, rt, desired, operation)
            return
        spec = AppSpec.from_application(app)
        comparison = await engine.compare(desired.manifests)
        # A new revision alone syncs, unless the render has hooks: Argo CD auto-syncs only an
        # OutOfSync Application, so a commit elsewhere in the repository must not re-run its
        # migration Jobs.
        moved = rt.status.revision != desired.revision
        wants = not comparison.in_sync or (moved and not has_hooks(desired.manifests))
        retrying_failure = rt.failed_revision == desired.revision and not spec.self_heal
        # Argo CD: without selfHeal, automated sync never re-syncs a revision it already
        # synced; live drift only turns the Application OutOfSync.
        done = not spec.self_heal and self._already_synced(app, rt, desired.revision)
        if spec.automated and wants and not retrying_failure and not done:
            await self._sync(engine, rt, desired, None, comparison)
        else:
            rt.status.revision = desired.revision

    async def _check_kinds(self, engine: SyncEngine, project: Project, desired: Desired) -> None:
        scopes: dict[tuple[str, str], bool | None] = {}
        for obj in desired.manifests:
            api_version = str(obj.get("apiVersion", ""))
            group = api_version.rpartition("/")[0] if "/" in api_version else ""
            kind = str(obj.get("kind", ""))
            if (group, kind) in scopes:
                continue
            try:
                res = await engine.discovery.resolve(api_version, kind)
                scopes[(group, kind)] = res.namespaced
            except UnknownKind:
                scopes[(group, kind)] = None  # a CRD the same sync creates: checked as namespaced
        problems = project.resource_violations(desired.manifests, lambda g, k: scopes.get((g, k)))
        if problems:
            raise Blocked(INVALID_SPEC, "; ".join(problems))

    @staticmethod
    def _already_synced(app: Obj, rt: _Runtime, revision: str) -> bool:
        """Whether the last sync was of this revision with this source and destination (Argo
        CD's alreadyAttemptedSync); a controller restart keeps the answer from `history`."""
        spec = app.get("spec") or {}
        target = json.dumps([spec.get("source"), spec.get("destination")], sort_keys=True)
        if rt.synced_target is None and rt.status.history:  # resumed: history has no source
            rt.synced_target = target
        last = rt.status.history[-1] if rt.status.history else {}
        return bool(revision) and last.get("revision") == revision and rt.synced_target == target

    async def _sync(
        self,
        engine: SyncEngine,
        rt: _Runtime,
        desired: Desired,
        operation: Obj | None,
        comparison: Comparison | None = None,
    ) -> Operation:
        sync = (operation or {}).get("sync") or {}
        prune_flag = sync.get("prune") if operation is not None else None
        app_spec = (self.apps.get(engine.spec.app.name) or {}).get("spec") or {}
        op = await engine.sync(
            desired.manifests,
            desired.revision,
            prune_enabled=None if prune_flag is None else bool(prune_flag),
            comparison=comparison,
            requested=requested_operation(operation, app_spec),
            source=echoed_source(app_spec),
        )
        rt.failed_revision = desired.revision if op.phase != "Succeeded" else ""
        rt.synced_target = json.dumps(
            [app_spec.get("source"), app_spec.get("destination")], sort_keys=True
        )
        if self.metrics is not None:
            self.metrics.syncs.labels(op.phase).inc()
        return op

    async def _operate(
        self, name: str, engine: SyncEngine, rt: _Runtime, desired: Desired, operation: Obj
    ) -> None:
        """A requested sync (`operation`), as `fleet app sync` or Argo CD's UI writes it."""
        if (operation.get("sync") or {}).get("dryRun"):
            await engine.compare(desired.manifests)
            op = Operation(
                revision=desired.revision,
                phase="Succeeded",
                message="dry run",
                requested=requested_operation(operation, {}),
            )
            op.finished_at = now()
            rt.status.operation = op
            return
        await self._sync(engine, rt, desired, operation)
        rt.failed_revision = ""  # a manual sync is not an automated retry of the same commit

    async def _blocked(self, name: str, app: Obj, rt: _Runtime, blocked: Blocked) -> None:
        other = INVALID_SPEC if blocked.condition == COMPARISON_ERROR else COMPARISON_ERROR
        rt.status.clear_condition(other)
        rt.status.set_condition(blocked.condition, str(blocked))
        rt.status.sync_status = "Unknown"
        if blocked.condition == COMPARISON_ERROR and not rt.status.resources:
            rt.status.health = "Unknown"
        if app.get("operation"):
            op = Operation(
                revision=str(((app["operation"].get("sync") or {}).get("revision")) or ""),
                phase="Error",
                message=str(blocked),
                requested=requested_operation(app["operation"], {}),
            )
            op.finished_at = now()
            rt.status.operation = op
        await self._write_status(name, rt)
        if app.get("operation") and not blocked.retry:
            await self._clear_operation(name)
        log.info(
            "application.blocked",
            app=f"{self.namespace}/{name}",
            condition=blocked.condition,
            message=str(blocked),
        )

    # -- hub writes ------------------------------------------------------------------------------

    @staticmethod
    def _comparable(status: Mapping[str, Any]) -> str:
        """A digest of `status` without its timestamps (`status` may be the shared hub
        object: it is not changed)."""
        doc = {k: v for k, v in status.items() if k != "reconciledAt"}
        conditions = doc.get("conditions")
        if isinstance(conditions, list):
            doc["conditions"] = [
                {k: v for k, v in c.items() if k != "lastTransitionTime"}
                if isinstance(c, dict)
                else c
                for c in conditions
            ]
        text = json.dumps(doc, sort_keys=True, default=str)
        return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()

    async def _write_status(self, name: str, rt: _Runtime) -> None:
        """Patch the status subresource, only when something other than timestamps changed
        (a steady fleet costs the hub no writes)."""
        doc = redact_status(rt.status.to_dict(links(self.apps.get(name))))
        text = self._comparable(json.loads(json.dumps(doc)))
        if text == rt.written:
            return
        doc["reconciledAt"] = now()
        try:
            await request_json(
                self.hub,
                "PATCH",
                self.flavour.application.status(self.namespace, name),
                body={"status": doc},
                content_type="application/merge-patch+json",
            )
        except NotFound:
            return  # deleted meanwhile
        before, rt.written, rt.written_basis = rt.written_basis, text, event_basis(doc)
        self.events.emit(self._event_ref(name), status_events(before, doc))

    def _event_ref(self, name: str) -> ObjectRef:
        uid = str(((self.apps.get(name) or {}).get("metadata") or {}).get("uid") or "")
        kind = self.flavour.application
        return ObjectRef(kind.kind, name, self.namespace, kind.api_version, uid)

    async def _clear_operation(self, name: str) -> None:
        with contextlib.suppress(NotFound):  # deleted meanwhile
            await request_json(
                self.hub,
                "PATCH",
                self.flavour.application.item(self.namespace, name),
                body={"operation": None},
                content_type="application/merge-patch+json",
            )

    # -- deletion --------------------------------------------------------------------------------

    async def _finalize(self, name: str, app: Obj, rt: _Runtime) -> None:
        """Delete the deployed resources, then release the resources finalizer. Any failure
        keeps the finalizer (the Application stays, Terminating) and is retried."""
        self._stop_healer(rt)
        finalizers = list((app.get("metadata") or {}).get("finalizers") or [])
        if RESOURCES_FINALIZER not in finalizers:
            return
        try:
            cluster = self._resolve(parse_application(app))
        except (InvalidApplicationError, UnknownDestinationError) as error:
            rt.status.set_condition(
                "DeletionError",
                f"{error}; the resources finalizer stays until the cluster is registered again "
                f"(remove {RESOURCES_FINALIZER} by hand to leave its resources in place)",
            )
            await self._write_status(name, rt)
            raise
        async with self.manager.use(cluster) as api:
            engine = self._engine(rt, app, cluster, api)
            op = await engine.sync([], "", prune_enabled=True, allow_empty=True, remove_hooks=True)
        if op.phase != "Succeeded":
            raise RuntimeError(f"deleting the resources of {name} failed: {op.message}")
        remaining = [f for f in finalizers if f != RESOURCES_FINALIZER]
        await request_json(
            self.hub,
            "PATCH",
            self.flavour.application.item(self.namespace, name),
            body={
                "metadata": {
                    "finalizers": remaining,
                    "resourceVersion": app["metadata"].get("resourceVersion"),
                }
            },
            content_type="application/merge-patch+json",
        )
        log.info("application.resources_deleted", app=f"{self.namespace}/{name}", cluster=cluster)

    def _drop(self, name: str) -> None:
        rt = self._runtimes.pop(name, None)
        if rt is not None:
            self._stop_healer(rt)
        self.queue.forget(name)

    # -- self-heal -------------------------------------------------------------------------------

    async def _ensure_healer(self, name: str, rt: _Runtime) -> None:
        if rt.healer is not None or rt.engine is None or self._tg is None:
            return
        engine = rt.engine
        healer = rt.healer = SelfHealer(
            engine,
            watches=None if engine.spec.reads_managed_fields else self.watches,
            on_change=lambda: self._refresh_soon(name),
        )
        try:
            await healer.attach(self._tg, lambda error: self._healer_ended(name, healer, error))
        except Exception as error:  # a healer never takes the controller down
            healer.detach()
            self._healer_ended(name, healer, error)

    def _refresh_soon(self, name: str) -> None:
        """Drift seen (not healed) or reverted: a compare-only reconcile writes the status.
        The queue holds a key once (and re-runs a busy key once), so bursts coalesce."""
        app = self.apps.get(name)
        if app is not None:
            self.queue.add(name, group=_group(app))

    def _healer_ended(self, name: str, healer: SelfHealer, error: Exception) -> None:
        """A watch the healer followed failed: a new one starts with the next reconcile."""
        log.warning(
            "application.selfheal_failed",
            app=f"{self.namespace}/{name}",
            error=str(error) or type(error).__name__,
        )
        rt = self._runtimes.get(name)
        if rt is not None and rt.healer is healer:
            rt.healer = None
            self.queue.add(name, after=1.0)

    @staticmethod
    def _stop_healer(rt: _Runtime) -> None:
        if rt.healer is not None:
            rt.healer.detach()
            rt.healer = None

    def status_counts(self) -> list[tuple[str, str]]:
        """(sync, health) per Application, for the metrics gauge."""
        out = []
        for app in self.apps.values():
            status = app.get("status") or {}
            out.append(
                (
                    str((status.get("sync") or {}).get("status") or "Unknown"),
                    str((status.get("health") or {}).get("status") or "Unknown"),
                )
            )
        return out
