"""The ApplicationSet controller: generated Applications on the hub, kept in line with git and the
cluster registry, without ever deleting on a partial picture.

Argo CD's controller deletes Applications whenever a generator returns fewer parameter sets,
including when it returned fewer because git, the cluster list or a template failed (argo-cd
issues 18480, 18212, 14318, 22127). Here an incomplete expansion still creates and updates what
did evaluate, but deletes nothing, and says so in the status. Deletions that do happen are
rationed by a budget per window, so a bad merge that drops a label from 500 clusters removes a
few Applications, not all of them, before someone reads the status.

Flow: watches (ApplicationSets; Applications carrying APPSET_LABEL) and RepoMoved events feed a
WorkQueue keyed by ApplicationSet name; each reconcile parses, fetches the git repositories it
needs, expands off the event loop, plans (`appset_plan.plan`) and writes only what differs.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import structlog
from anyio.abc import TaskStatus
from kubernetes_asyncio.client import ApiClient

from fleet.api.application import generated_refusal
from fleet.api.group import FLEET, ApiFlavour
from fleet.api.project import (
    DEFAULT_PROJECT,
    InvalidProjectError,
    Project,
    default_project,
    parse_project,
)
from fleet.api.resources import APPSET_LABEL, RESOURCES_FINALIZER
from fleet.controllers.app_events import EventSink, appset_events
from fleet.controllers.appset_plan import (
    IgnoreRule,
    Plan,
    PlanError,
    Unchanged,
    deletion_budget,
    effective_policy,
    ignore_rules,
    plan,
    updated,
)
from fleet.controllers.appset_status import (
    ERROR_OCCURRED,
    PARAMETERS_GENERATED,
    RESOURCES_UP_TO_DATE,
    Condition,
    conditions_body,
    resources_body,
    same_status,
)
from fleet.controllers.repos import RepoHub
from fleet.controllers.shared_objects import SharedObjects
from fleet.controllers.workqueue import WorkQueue
from fleet.git.urls import redact_url
from fleet.kube import Conflict, KubeError, NotFound, request_json
from fleet.kube.events import ObjectRef
from fleet.kube.watch import list_and_watch
from generators.base import Cluster, Environment
from generators.errors import GeneratorError
from generators.expand import FINALIZERS, Expansion, expand
from generators.limits import DEFAULT_LIMITS, ExpansionLimits
from generators.model import ApplicationSet, parse_application_set
from generators.repos import RepoResolver

log = structlog.get_logger("fleet.appset")

BUDGET_ANNOTATION = "fleet.gitops.dev/deletion-budget"
"""Per-ApplicationSet deletion budget: `"50%"` of its current Applications or a count `"5"`."""
FROZEN_NOTE = "deletions are suspended until every generator evaluates"

App = dict[str, Any]
Resolve = Callable[[Sequence[str]], Awaitable[tuple[RepoResolver, dict[str, str]]]]
"""repoURLs -> a resolver over those that could be fetched, and url -> error for the rest."""
Projects = Callable[[], Mapping[str, Mapping[str, Any]]]
"""The hub's Projects by name (raw documents), as the Application controller watches them."""
REPOSITORY_NOT_PERMITTED = "RepositoryNotPermitted"


WRITE_CONCURRENCY = 16
"""Application writes in flight at once for one ApplicationSet reconcile."""

APP_EVENT_BATCH = 1.0

EXPANSION_THREADS = 2
"""ApplicationSets expanded at once, each in a worker thread. Expansion holds the GIL while it
runs: more threads would not expand faster, only take more turns from the event loop."""
"""Seconds an Application event waits before its ApplicationSet is looked at (coalescing)."""


class Reported(RuntimeError):
    """Raised after the reason is already in the ApplicationSet's status (back off, retry)."""


class ClustersUnavailable(Exception):
    """The hub's Cluster list is not known (not listed yet, or the hub watch is failing)."""


@dataclass(frozen=True, slots=True)
class AppSetSettings:
    policy: str = "sync"
    """Argo CD's `--policy`: create-only, create-update, create-delete or sync."""
    allow_policy_override: bool = True
    """Argo CD's `--enable-policy-override`: an ApplicationSet's applicationsSync wins."""
    resync_period: float = 180.0
    deletion_budget: str = "20%"
    """Default share (or count) of an ApplicationSet's Applications deletable per window."""
    budget_window: float | None = None
    """Seconds per deletion-budget window; None: the resync period."""
    in_cluster_enabled: bool = True
    allow_generator_repos_outside_project: bool = False
    """`--allow-generator-repos-outside-project`: let git generators read repositories the
    generated Applications' Projects do not list in sourceRepos (Argo CD's behaviour)."""
    workers: int = 8
    request_timeout: float = 10.0
    expansion: ExpansionLimits = DEFAULT_LIMITS
    """Time, memory and size limits of one ApplicationSet's expansion (`--appset-*` flags)."""
    max_resources_status: int = 5000
    """Applications listed in `status.resources` at most, as Argo CD's ApplicationSet
    controller caps it (`status.resourcesCount` has the total): at 10,000 Applications the
    full list is about 1.7 MB, past etcd's 1.5 MiB object limit, and every write would fail."""

    @property
    def window(self) -> float:
        return self.budget_window if self.budget_window is not None else self.resync_period


# -- generation (shared with `fleet appset diff`) ---------------------------------------------


def git_generator_urls(
    generators: Sequence[Mapping[str, Any]], base: str
) -> Iterator[tuple[str, str]]:
    """(generator path, repoURL) of every git generator, nested matrix/merge ones included.
    Templated URLs (`{{...}}`) are skipped: they are only known during expansion."""
    for index, entry in enumerate(generators):
        if not isinstance(entry, Mapping):
            continue
        for kind, spec in entry.items():
            path = f"{base}[{index}].{kind}"
            if not isinstance(spec, Mapping):
                continue
            if kind == "git":
                url = spec.get("repoURL")
                if isinstance(url, str) and url and "{{" not in url:
                    yield path, url
            elif kind in ("matrix", "merge"):
                children = spec.get("generators")
                if isinstance(children, list):
                    yield from git_generator_urls(children, f"{path}.generators")


async def fetch_repositories(
    repos: RepoHub, urls: Sequence[str]
) -> tuple[RepoResolver, dict[str, str]]:
    """A resolver over every repository that could be fetched, and url -> error for the rest:
    one unreachable repository must not stop the generators reading the others."""
    failures: dict[str, str] = {}
    ok: list[str] = []
    for url in dict.fromkeys(urls):
        try:
            repos.register(url)
            await repos.cache.ensure(url)
        except (GeneratorError, OSError, ValueError) as error:
            failures[url] = str(error) or type(error).__name__
            continue
        ok.append(url)
    return await repos.resolver(ok), failures


def expand_sync(
    appset: ApplicationSet,
    clusters: Sequence[Cluster],
    clusters_error: str | None,
    resolver: RepoResolver | None,
    in_cluster_enabled: bool,
    bounds: ExpansionLimits = DEFAULT_LIMITS,
) -> Expansion:
    """Expansion in a worker thread: the resolver's readers are opened and closed here.

    Expansion is CPU-bound pure Python: in a worker thread the event loop (health endpoints,
    Lease renewal, watches) keeps getting the GIL, and `bounds` (a deadline checked
    cooperatively, memory and size limits) ends a hostile template's run, which a thread
    could not otherwise be made to."""
    env = Environment(
        clusters=tuple(clusters),
        repos=resolver,
        in_cluster_enabled=in_cluster_enabled,
        clusters_error=clusters_error,
    )
    try:
        return expand(appset, env, bounds)
    finally:
        close = getattr(resolver, "close", None)
        if close is not None:
            close()


def generator_repo_refusals(
    git: Sequence[tuple[str, str]],
    applications: Sequence[Mapping[str, Any]],
    template_project: Any,
    projects: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """Why the repositories git generators read may not feed these Applications, one message
    per (generator, repository, Project); empty when every Project permits every repository.

    A generator's files and directory names become the Applications' fields, so reading a
    repository is like deploying from it: every repository the ApplicationSet read is checked
    against the Project of every Application it generated (a templated `project` is known only
    per Application), or against the template's own Project when nothing was generated.
    """
    names = {str((a.get("spec") or {}).get("project") or DEFAULT_PROJECT) for a in applications}
    if not names and isinstance(template_project, str) and "{{" not in template_project:
        names = {template_project or DEFAULT_PROJECT}
    out: list[str] = []
    for name in sorted(names):
        raw = projects.get(name)
        project: Project
        if raw is None:
            if name != DEFAULT_PROJECT:
                out.append(
                    f"project '{name}' does not exist: the repositories its generators read "
                    "cannot be checked against its sourceRepos"
                )
                continue
            project = default_project()
        else:
            try:
                project = parse_project(raw)
            except InvalidProjectError as error:
                out.append(f"project '{name}': {error}")
                continue
        for path, url in git:
            if not project.permits_source(url):
                out.append(
                    f"{path}: repository {redact_url(url)} is not permitted in project "
                    f"'{name}' (spec.sourceRepos) of the Applications it generates"
                )
    return out


def fleet_application(
    app: Mapping[str, Any],
    *,
    appset_name: str,
    appset_uid: str | None,
    namespace: str,
    flavour: ApiFlavour = FLEET,
) -> App:
    """A generated Application as fleet stores it on the hub: the flavour's apiVersion, the hub
    namespace, the ApplicationSet label and (when the ApplicationSet exists) its owner reference."""
    out: App = copy.deepcopy(dict(app))
    out["apiVersion"] = flavour.api_version
    meta = out.setdefault("metadata", {})
    meta["namespace"] = namespace
    meta["labels"] = {**(meta.get("labels") or {}), APPSET_LABEL: appset_name}
    finalizers = meta.get("finalizers")
    if finalizers:
        fleet_finalizer = FINALIZERS["fleet.gitops.dev"]
        meta["finalizers"] = [
            RESOURCES_FINALIZER if f == fleet_finalizer else f for f in finalizers
        ]
    if appset_uid:
        meta["ownerReferences"] = [
            {
                "apiVersion": flavour.application_set.api_version,
                "kind": flavour.application_set.kind,
                "name": appset_name,
                "uid": appset_uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return out


@dataclass
class Generated:
    """One ApplicationSet evaluated: what it wants, and everything that went wrong."""

    name: str
    desired: list[App] = field(default_factory=list)
    invalid: str | None = None
    """The document (or its policy) is unusable: nothing may be created, updated or deleted."""
    problems: list[str] = field(default_factory=list)
    """Generator, git, cluster-list or template errors: the expansion is incomplete."""
    refused: bool = False
    """`invalid` because a generator read a repository a Project does not permit; looked at
    again at every resync (the Project may change), unlike a malformed document."""
    warnings: list[str] = field(default_factory=list)
    policy: str = "sync"
    ignore: list[IgnoreRule] = field(default_factory=list)
    preserved_annotations: list[str] = field(default_factory=list)
    preserved_labels: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.invalid is None and not self.problems


def _string_list(raw: Any) -> list[str]:
    return [str(v) for v in raw] if isinstance(raw, list) else []


async def generate(
    document: Mapping[str, Any],
    *,
    namespace: str,
    clusters: Callable[[], Sequence[Cluster]],
    resolve: Resolve,
    settings: AppSetSettings,
    source: str = "",
    limiter: anyio.CapacityLimiter | None = None,
    projects: Projects | None = None,
    flavour: ApiFlavour = FLEET,
) -> Generated:
    """Parse and expand one ApplicationSet document into fleet Applications.

    `resolve(urls)` is awaited for `(resolver, failures)` (see `fetch_repositories`). With
    `projects`, git generators may read only repositories the generated Applications'
    Projects permit (`generator_repo_refusals`), unless the settings allow it.
    """
    meta = document.get("metadata") or {}
    name = str(meta.get("name") or "")
    result = Generated(name=name)
    try:
        appset = parse_application_set(document, source)
    except GeneratorError as error:
        result.invalid = str(error)
        return result
    spec = document.get("spec") or {}
    sync_policy = spec.get("syncPolicy") or {}
    try:
        result.policy = effective_policy(
            sync_policy.get("applicationsSync"), settings.policy, settings.allow_policy_override
        )
        result.ignore = ignore_rules(spec.get("ignoreApplicationDifferences"))
    except PlanError as error:
        result.invalid = str(error)
        return result
    preserved = spec.get("preservedFields") or {}
    result.preserved_annotations = _string_list(preserved.get("annotations"))
    result.preserved_labels = _string_list(preserved.get("labels"))

    clusters_error: str | None = None
    cluster_list: Sequence[Cluster] = ()
    try:
        cluster_list = clusters()
    except ClustersUnavailable as error:
        clusters_error = str(error) or "the hub's Cluster list is not known yet"

    git = list(git_generator_urls(appset.generators, "spec.generators"))
    resolver: RepoResolver | None = None
    failures: dict[str, str] = {}
    if git:
        resolver, failures = await resolve([url for _, url in git])
    for path, url in git:
        if url in failures:
            result.problems.append(
                f"{path}: repository {url} could not be fetched: {failures[url]}"
            )

    expansion = await anyio.to_thread.run_sync(
        expand_sync,
        appset,
        cluster_list,
        clusters_error,
        resolver,
        settings.in_cluster_enabled,
        settings.expansion,
        limiter=limiter,
    )
    if projects is not None and git and not settings.allow_generator_repos_outside_project:
        template = (spec.get("template") or {}).get("spec") or {}
        refusals = generator_repo_refusals(
            git, expansion.applications, template.get("project"), projects()
        )
        if refusals:
            result.invalid = "; ".join(refusals)
            result.refused = True
            return result
    result.problems.extend(str(error) for error in expansion.errors)
    result.warnings = list(expansion.warnings)
    uid = meta.get("uid")
    accepted = []
    for app in expansion.applications:
        # Refused here with the words `fleet appset render` uses, not by the API server's
        # validation later: an incomplete expansion deletes nothing.
        refusal = generated_refusal(app)
        if refusal is None:
            accepted.append(app)
        else:
            result.problems.append(refusal)
    result.desired = [
        fleet_application(
            app, appset_name=name, appset_uid=uid, namespace=namespace, flavour=flavour
        )
        for app in accepted
    ]
    return result


# -- the controller -----------------------------------------------------------------------------


@dataclass
class _Window:
    start: float
    allowed: int
    base: int
    """How many Applications the ApplicationSet had when the window opened."""
    deleted: int = 0


class ApplicationSetController:
    """Reconciles every ApplicationSet in `namespace` on the hub."""

    def __init__(
        self,
        hub: ApiClient,
        namespace: str,
        *,
        repos: RepoHub,
        clusters: Callable[[], Sequence[Cluster]],
        settings: AppSetSettings | None = None,
        projects: Projects | None = None,
        flavour: ApiFlavour = FLEET,
        shared: SharedObjects | None = None,
    ) -> None:
        """`projects`: the hub's Projects, for the generator repository check (None: off).
        `flavour`: whose ApplicationSets and Applications (fleet's, or Argo CD's).
        `shared`: Application versions shared with the Application controller's watch."""
        self.hub = hub
        self.shared = shared if shared is not None else SharedObjects()
        self.flavour = flavour
        self.projects = projects
        self.namespace = namespace
        self.repos = repos
        self.clusters = clusters
        self.settings = settings or AppSetSettings()
        workers = self.settings.workers
        self.queue = WorkQueue(self.reconcile, workers=workers, per_group=workers, name="appsets")
        self.writes = 0
        self.events = EventSink(hub)
        """Kubernetes Events when deletions are frozen or held, or generation fails."""
        """Every create, update, delete and status write made (for tests and metrics)."""
        self._appsets: dict[str, dict[str, Any]] = {}
        self._apps: dict[str, dict[str, Any]] = {}
        self._windows: dict[str, _Window] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self._limiter = anyio.CapacityLimiter(EXPANSION_THREADS)
        self._expansions: dict[str, tuple[str, float, Generated]] = {}
        """name -> (what it read, when, the complete expansion): see `_generate`."""
        self._unchanged: dict[str, Unchanged] = {}
        """Per ApplicationSet: its Applications the last plan found unchanged (see plan)."""
        self._inputs_epoch = 0
        """Moves when the clusters or a repository move: every expansion may differ then."""
        self.expansions = 0
        self.expansions_reused = 0
        self._synced = False

    # -- events ------------------------------------------------------------------------------

    def cached(self) -> Mapping[str, dict[str, Any]]:
        """The ApplicationSets as last seen on the hub (read-only: the dashboard's view)."""
        return self._appsets

    def _enqueue(self, name: str, after: float = 0.0) -> None:
        if self._synced and name:
            self.queue.add(name, after=after)

    def requeue_all(self) -> None:
        for name in list(self._appsets):
            self._enqueue(name)

    def clusters_changed(self) -> None:
        """The cluster registry changed: every ApplicationSet may generate differently."""
        self._inputs_epoch += 1
        self.requeue_all()

    async def _appsets_reset(self, items: list[dict[str, Any]]) -> None:
        fresh = {str(o["metadata"]["name"]): o for o in items}
        for gone in set(self._appsets) - set(fresh):
            self.queue.forget(gone)
            self._windows.pop(gone, None)
            self._expansions.pop(gone, None)
            self._unchanged.pop(gone, None)
        self._appsets = fresh
        self.requeue_all()

    async def _appset_event(self, kind: str, obj: dict[str, Any]) -> None:
        name = str(obj["metadata"]["name"])
        if kind == "DELETED":
            self._appsets.pop(name, None)
            self._windows.pop(name, None)
            self._expansions.pop(name, None)
            self._unchanged.pop(name, None)
            self.queue.forget(name)
            return
        old = self._appsets.get(name)
        self._appsets[name] = obj
        # Our own status writes come back as events: only spec/metadata changes need a look.
        if old is None or _generation_view(old) != _generation_view(obj):
            self._enqueue(name)

    async def _apps_reset(self, items: list[dict[str, Any]]) -> None:
        self._apps = {str(o["metadata"]["name"]): self.shared.share(o) for o in items}
        self.requeue_all()

    async def _app_event(self, kind: str, obj: dict[str, Any]) -> None:
        name = str(obj["metadata"]["name"])
        # A label edited away arrives as DELETED (no longer matching the selector) carrying the
        # new labels: the previous owner, from the cache, must look too.
        previous = self._apps.pop(name, None) if kind == "DELETED" else self._apps.get(name)
        if kind != "DELETED":
            obj = self._apps[name] = self.shared.share(obj)
        else:
            self.shared.forget(obj)
        # Batched: while hundreds of Applications report progress, their ApplicationSet is
        # re-evaluated about once a second, not once per status write.
        for version in (previous, obj):
            if version is not None:
                self._enqueue(
                    str((version["metadata"].get("labels") or {}).get(APPSET_LABEL) or ""),
                    after=APP_EVENT_BATCH,
                )

    async def _follow_repos(self) -> None:
        while True:
            stream = self.repos.subscribe()
            async with stream:
                async for _ in stream:
                    self._requeue_git()
            self._requeue_git()  # closed as too slow: we may have missed moves

    def _requeue_git(self) -> None:
        self._inputs_epoch += 1
        for name, obj in list(self._appsets.items()):
            generators = (obj.get("spec") or {}).get("generators") or []
            if any(True for _ in git_generator_urls(generators, "spec.generators")):
                self._enqueue(name)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Watch, queue and reconcile until cancelled; started once both lists are in."""
        appsets_ready = anyio.Event()
        apps_ready = anyio.Event()

        async def on_appsets(items: list[dict[str, Any]]) -> None:
            await self._appsets_reset(items)
            appsets_ready.set()

        async def on_apps(items: list[dict[str, Any]]) -> None:
            await self._apps_reset(items)
            apps_ready.set()

        async with anyio.create_task_group() as tg:
            await tg.start(self.events.run)
            await tg.start(self.queue.run)
            tg.start_soon(
                lambda: list_and_watch(
                    self.hub,
                    self.flavour.application_set.collection(self.namespace),
                    on_reset=on_appsets,
                    on_event=self._appset_event,
                    request_timeout=self.settings.request_timeout,
                )
            )
            tg.start_soon(
                lambda: list_and_watch(
                    self.hub,
                    self.flavour.application.collection(self.namespace),
                    on_reset=on_apps,
                    on_event=self._app_event,
                    label_selector=APPSET_LABEL,
                    request_timeout=self.settings.request_timeout,
                )
            )
            await appsets_ready.wait()
            await apps_ready.wait()
            self._synced = True
            self.requeue_all()
            tg.start_soon(self._follow_repos)
            log.info("appset.controller_started", namespace=self.namespace)
            task_status.started()

    # -- reconcile ---------------------------------------------------------------------------

    def _lock(self, name: str) -> anyio.Lock:
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = anyio.Lock()
        return lock

    def applications_of(self, name: str) -> list[dict[str, Any]]:
        return [
            app
            for app in self._apps.values()
            if (app["metadata"].get("labels") or {}).get(APPSET_LABEL) == name
        ]

    async def reconcile(self, name: str) -> float | None:
        """One ApplicationSet; returns when to look again (the resync, or the budget window)."""
        async with self._lock(name):
            obj = self._appsets.get(name)
            if obj is None or obj["metadata"].get("deletionTimestamp"):
                return None
            try:
                return await self._reconcile(name, obj)
            except Reported:
                raise
            except Exception as error:  # no reason to stall may be only in the log
                await self._unexpected(obj, error)
                raise  # the work queue backs off and retries

    async def _unexpected(self, obj: dict[str, Any], error: Exception) -> None:
        """An error no other branch reported: a condition naming its type (the traceback goes
        to the log, not to the hub). Nothing was deleted: deletions follow a complete plan."""
        name = obj["metadata"]["name"]
        log.warning(
            "appset.reconcile_failed", appset=name, error_type=type(error).__name__, exc_info=error
        )
        message = (
            f"unexpected {type(error).__name__} while reconciling (details in the controller "
            "log); nothing was deleted; it is retried"
        )
        reason = "ReconcileError"
        conditions = [
            Condition(ERROR_OCCURRED, True, reason, message),
            Condition(PARAMETERS_GENERATED, False, reason, message),
            Condition(RESOURCES_UP_TO_DATE, False, reason, message),
        ]
        try:
            await self._write_status(
                obj, conditions, list((obj.get("status") or {}).get("resources") or [])
            )
        except Exception as write_error:  # the hub itself failing: the queue's backoff retries
            log.warning("appset.status_write_failed", appset=name, error=str(write_error))

    async def _resolve(self, urls: Sequence[str]) -> tuple[RepoResolver, dict[str, str]]:
        return await fetch_repositories(self.repos, urls)

    async def _generate(self, name: str, obj: dict[str, Any]) -> Generated:
        """The ApplicationSet expanded, or its last complete expansion when nothing it reads
        has changed since (its spec, labels and annotations; the clusters; the repositories),
        for at most a resync period.

        Why: expansion (git reads, templates) is the expensive part, and most reconciles come
        from the Applications' own events (their status moving during a rollout), which change
        nothing it reads: those only re-plan against the live Applications and refresh status.
        An incomplete expansion is never reused, so a failing generator is retried."""
        key = json.dumps([_generation_view(obj), self._inputs_epoch], default=str)
        now = anyio.current_time()
        cached = self._expansions.get(name)
        fresh = cached is not None and now - cached[1] < self.settings.resync_period
        if cached is not None and fresh and cached[0] == key:
            self.expansions_reused += 1
            return cached[2]
        generated = await generate(
            obj,
            namespace=self.namespace,
            clusters=self.clusters,
            resolve=self._resolve,
            settings=self.settings,
            limiter=self._limiter,
            projects=self.projects,
            flavour=self.flavour,
        )
        self.expansions += 1
        if generated.complete:
            self._expansions[name] = (key, now, generated)
        else:
            self._expansions.pop(name, None)
        return generated

    async def _reconcile(self, name: str, obj: dict[str, Any]) -> float | None:
        bound = log.bind(appset=name, namespace=self.namespace)
        generated = await self._generate(name, obj)
        existing = self.applications_of(name)
        if generated.invalid is not None:
            bound.warning("appset.invalid", error=generated.invalid)
            reason = REPOSITORY_NOT_PERMITTED if generated.refused else "InvalidApplicationSet"
            await self._write_status(obj, _invalid_conditions(generated.invalid, reason), [])
            return self.settings.resync_period if generated.refused else None

        problems = list(generated.problems)
        window = self._window(name)
        try:
            spec_budget = (obj["metadata"].get("annotations") or {}).get(BUDGET_ANNOTATION)
            allowed = (
                window.allowed
                if window
                else deletion_budget(spec_budget, len(existing), self.settings.deletion_budget)
            )
        except PlanError as error:
            problems.append(f"metadata.annotations[{BUDGET_ANNOTATION!r}]: {error}")
            allowed = 0
        deleted_before = window.deleted if window else 0
        base = window.base if window else len(existing)
        the_plan = plan(
            generated.desired,
            existing,
            policy=generated.policy,
            complete=not problems,
            budget=allowed - deleted_before,
            preserved_annotations=generated.preserved_annotations,
            preserved_labels=generated.preserved_labels,
            ignore=generated.ignore,
            unchanged=self._unchanged.setdefault(name, {}),
        )
        write_errors = await self._act(the_plan, name)
        if the_plan.delete:
            self._count_deletions(name, allowed, base, len(the_plan.delete))
        desired_names = [a["metadata"]["name"] for a in generated.desired]
        conditions = _conditions(
            the_plan,
            problems,
            write_errors,
            allowed=allowed,
            deleted=deleted_before,
            existing=base,
            window=self.settings.window,
            spec_budget=spec_budget or self.settings.deletion_budget,
        )
        await self._write_status(
            obj, conditions, resources_body(desired_names, self._apps, self.namespace, self.flavour)
        )
        bound.info(
            "appset.reconciled",
            desired=len(generated.desired),
            created=len(the_plan.create),
            updated=len(the_plan.update),
            deleted=len(the_plan.delete),
            held=len(the_plan.held),
            frozen=len(the_plan.frozen),
            problems=len(problems),
        )
        for warning in generated.warnings:
            bound.warning("appset.warning", message=warning)
        if the_plan.held:
            current = self._window(name)
            left = (current.start + self.settings.window - anyio.current_time()) if current else 0
            return max(0.05, min(left, self.settings.resync_period))
        if write_errors:
            raise Reported("; ".join(write_errors))  # in the status; back off and retry
        return self.settings.resync_period

    def _window(self, name: str) -> _Window | None:
        window = self._windows.get(name)
        if window is not None and anyio.current_time() - window.start >= self.settings.window:
            del self._windows[name]
            return None
        return window

    def _count_deletions(self, name: str, allowed: int, base: int, count: int) -> None:
        window = self._window(name)
        if window is None:
            window = self._windows[name] = _Window(anyio.current_time(), allowed, base)
        window.deleted += count

    async def _act(self, the_plan: Plan, appset_name: str) -> list[str]:
        """Creates, then updates, then deletes; each group concurrently (bounded): an
        ApplicationSet over 1,000 clusters must not wait for 1,000 round trips in a row."""
        errors: list[str] = []
        timeout = self.settings.request_timeout
        limiter = anyio.CapacityLimiter(WRITE_CONCURRENCY)

        async def create(app: App) -> None:
            app_name = app["metadata"]["name"]
            async with limiter:
                try:
                    made = await request_json(
                        self.hub,
                        "POST",
                        self.flavour.application.collection(self.namespace),
                        body=app,
                        timeout=timeout,
                    )
                    self.writes += 1
                    self._apps[app_name] = made
                except Conflict:
                    errors.append(await self._create_conflict(app, appset_name))
                except KubeError as error:
                    errors.append(
                        f"creating Application {app_name}: {error.message or error.reason}"
                    )

        async def update(merged: App) -> None:
            app_name = merged["metadata"]["name"]
            async with limiter:
                try:
                    made = await request_json(
                        self.hub,
                        "PUT",
                        self.flavour.application.item(self.namespace, app_name),
                        body=merged,
                        timeout=timeout,
                    )
                    self.writes += 1
                    self._apps[app_name] = made
                except Conflict:
                    errors.append(
                        f"updating Application {app_name}: it changed meanwhile; retrying"
                    )
                except KubeError as error:
                    errors.append(
                        f"updating Application {app_name}: {error.message or error.reason}"
                    )

        async def delete(app: App) -> None:
            app_name = app["metadata"]["name"]
            async with limiter:
                try:
                    await request_json(
                        self.hub,
                        "DELETE",
                        self.flavour.application.item(self.namespace, app_name),
                        timeout=timeout,
                    )
                    self.writes += 1
                except NotFound:
                    pass
                except KubeError as error:
                    errors.append(
                        f"deleting Application {app_name}: {error.message or error.reason}"
                    )
                    return
            self._apps.pop(app_name, None)
            log.info("appset.application_deleted", appset=appset_name, application=app_name)

        async with anyio.create_task_group() as tg:
            for app in the_plan.create:
                tg.start_soon(create, app)
        async with anyio.create_task_group() as tg:
            for merged, _ in the_plan.update:
                tg.start_soon(update, merged)
        async with anyio.create_task_group() as tg:
            for app in the_plan.delete:
                tg.start_soon(delete, app)
        return [e for e in errors if e]

    async def _create_conflict(self, app: App, appset_name: str) -> str:
        """The name is taken. Ours (labelled, not yet seen by the watch; or owned by this
        ApplicationSet but with its label edited away): take it back. Anyone else's: report."""
        app_name = app["metadata"]["name"]
        timeout = self.settings.request_timeout
        try:
            live = await request_json(
                self.hub,
                "GET",
                self.flavour.application.item(self.namespace, app_name),
                timeout=timeout,
            )
        except KubeError as error:
            return f"creating Application {app_name}: {error.message or error.reason}"
        meta = live.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(APPSET_LABEL)
        if owner == appset_name:
            self._apps[app_name] = live
            return ""
        our_uids = {r.get("uid") for r in app["metadata"].get("ownerReferences") or []}
        if our_uids & {r.get("uid") for r in meta.get("ownerReferences") or []}:
            try:
                made = await request_json(
                    self.hub,
                    "PUT",
                    self.flavour.application.item(self.namespace, app_name),
                    body=updated(app, live),
                    timeout=timeout,
                )
            except KubeError as error:
                return f"restoring Application {app_name}: {error.message or error.reason}"
            self.writes += 1
            self._apps[app_name] = made
            return ""
        who = f"ApplicationSet {owner}" if owner else "no ApplicationSet"
        return (
            f"Application {app_name} already exists and belongs to {who}: rename the generated "
            f"Application (spec.template.metadata.name) or delete the existing one"
        )

    async def _write_status(
        self, obj: dict[str, Any], conditions: list[Condition], resources: list[dict[str, Any]]
    ) -> None:
        current = obj.get("status") or {}
        wanted = {
            "conditions": conditions_body(conditions, current.get("conditions") or []),
            "resources": resources[: self.settings.max_resources_status],
            "resourcesCount": len(resources),
        }
        if same_status(current, wanted):
            return
        name = obj["metadata"]["name"]
        try:
            made = await request_json(
                self.hub,
                "PATCH",
                self.flavour.application_set.status(self.namespace, name),
                body={"status": wanted},
                content_type="application/merge-patch+json",
                timeout=self.settings.request_timeout,
            )
        except NotFound:
            return
        self.writes += 1
        if name in self._appsets:
            self._appsets[name] = made
        kind = self.flavour.application_set
        ref = ObjectRef(
            kind.kind, name, self.namespace, kind.api_version, str(obj["metadata"].get("uid") or "")
        )
        self.events.emit(ref, appset_events(current.get("conditions"), wanted["conditions"]))


def _generation_view(obj: Mapping[str, Any]) -> Any:
    meta = obj.get("metadata") or {}
    return (
        obj.get("spec"),
        meta.get("annotations"),
        meta.get("labels"),
        meta.get("deletionTimestamp"),
        meta.get("uid"),
    )


def _invalid_conditions(message: str, reason: str = "InvalidApplicationSet") -> list[Condition]:
    fix = f"{message}; nothing was created, updated or deleted until it is fixed"
    return [
        Condition(ERROR_OCCURRED, True, reason, fix),
        Condition(PARAMETERS_GENERATED, False, reason, fix),
        Condition(RESOURCES_UP_TO_DATE, False, reason, fix),
    ]


def _conditions(
    the_plan: Plan,
    problems: list[str],
    write_errors: list[str],
    *,
    allowed: int,
    deleted: int,
    existing: int,
    window: float,
    spec_budget: str | None,
) -> list[Condition]:
    skipped = [reason for _, reason in the_plan.skipped if "jqPathExpressions" in reason]
    if problems:
        kept = len(the_plan.frozen)
        detail = "; ".join(problems)
        message = f"{detail}. {FROZEN_NOTE}"
        if kept:
            message += f" ({kept} Application(s) no longer generated are kept for now)"
        return [
            Condition(ERROR_OCCURRED, True, "ApplicationGenerationFromParamsError", message),
            Condition(PARAMETERS_GENERATED, False, "ApplicationGenerationFromParamsError", message),
            Condition(RESOURCES_UP_TO_DATE, False, "ApplicationGenerationFromParamsError", message),
        ]
    if write_errors or skipped:
        message = "; ".join([*write_errors, *sorted(set(skipped))])
        return [
            Condition(ERROR_OCCURRED, True, "ApplicationSetApplyError", message),
            Condition(
                PARAMETERS_GENERATED,
                True,
                "ParametersGenerated",
                "Successfully generated parameters for all Applications",
            ),
            Condition(RESOURCES_UP_TO_DATE, False, "ApplicationSetApplyError", message),
        ]
    ok = [
        Condition(
            ERROR_OCCURRED,
            False,
            "ApplicationSetUpToDate",
            "All applications have been generated successfully",
        ),
        Condition(
            PARAMETERS_GENERATED,
            True,
            "ParametersGenerated",
            "Successfully generated parameters for all Applications",
        ),
    ]
    if the_plan.held:
        done = deleted + len(the_plan.delete)
        message = (
            f"{len(the_plan.held)} Application(s) no longer generated are held back by the "
            f"deletion budget ({spec_budget}: {allowed} of {existing} per {window:g}s window; "
            f"{done} deleted in this window); they are deleted in later windows. To delete "
            f"them sooner, set the annotation {BUDGET_ANNOTATION} on the ApplicationSet "
            f'(e.g. "100%"); if the deletions are a mistake, fix the generators now'
        )
        return [*ok, Condition(RESOURCES_UP_TO_DATE, False, "DeletionBudgetExceeded", message)]
    return [
        *ok,
        Condition(
            RESOURCES_UP_TO_DATE,
            True,
            "ApplicationSetUpToDate",
            "All applications have been generated successfully",
        ),
    ]
