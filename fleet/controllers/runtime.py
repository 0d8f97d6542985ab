"""The controller process: every part wired together, started and stopped in order.

Start: cluster registry (hub watch of Clusters and Secrets) -> Application controller ->
ApplicationSet controller -> git polling -> HTTP server; `run` reports started once the hub
caches are listed and the server listens. Stop (`shutdown`): stop starting reconciles, let
in-flight ones (applies) finish within the grace period, then cancel watches and close clients.
A sync cut off by SIGKILL is safe too: the next controller resumes from the inventory in the
Application's status and the tracking labels on the cluster.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import structlog
from anyio.abc import TaskStatus
from kubernetes_asyncio.client import ApiClient

from fleet.api.group import FLEET, ApiFlavour
from fleet.api.resources import DEFAULT_NAMESPACE
from fleet.clusters.credentials import NO_EXEC, ExecPolicy
from fleet.clusters.generator_input import generator_clusters
from fleet.clusters.manager import ClusterManager, ManagerSettings
from fleet.clusters.registry import HubRegistry
from fleet.controllers.application import AppControllerSettings, ApplicationController
from fleet.controllers.appset import (
    ApplicationSetController,
    AppSetSettings,
    ClustersUnavailable,
)
from fleet.controllers.liveness import LivenessLoop, notifier
from fleet.controllers.repos import RepoHub
from fleet.controllers.sharding import ShardCollector, ShardCoordinator, ShardSettings
from fleet.controllers.shared_objects import SharedObjects
from fleet.git.cache import RepoCache
from fleet.git.polling import Poller
from fleet.git.webhooks import WebhookSecrets
from fleet.kube.client import Credentials, FleetApiClient
from fleet.notify.config import SECRET as NOTIFICATIONS_SECRET
from fleet.notify.metrics import NotifyMetrics
from fleet.notify.runner import AppSource, Notifier, NotifySettings, keep_running
from fleet.render import RenderTools, report_sandbox
from fleet.server.app import HttpServer, make_app
from fleet.server.dashboard import Dashboard, for_controller, run_for_controller
from fleet.server.health import DEFAULT_STALL, make_health_app
from fleet.server.limits import HttpLimits
from fleet.server.metrics import Metrics
from generators.base import IN_CLUSTER_NAME
from generators.base import Cluster as GeneratorCluster
from generators.limits import DEFAULT_LIMITS, ExpansionLimits

log = structlog.get_logger("fleet.controller")


@dataclass(frozen=True)
class ControllerSettings:
    cache_dir: Path
    namespace: str = DEFAULT_NAMESPACE
    flavour: ApiFlavour = FLEET
    """Whose API group the controller serves (`--api`): fleet's, or Argo CD's."""
    argocd_tracking: str = "annotation"
    """With `--api argocd`: Argo CD's resource tracking method (`--argocd-tracking-method`)."""
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    health_host: str = "127.0.0.1"
    health_port: int | None = None
    """/healthz and /readyz from the liveness loop (fleet.server.health); None: only on the
    main port. 0: any free port (read `Controller.health_port` once started)."""
    liveness_stall: float = DEFAULT_STALL
    """0: any free port (read `Controller.port` once started)."""
    resync_period: float = 180.0
    git_poll_interval: float = 60.0
    reconciles: int = 128
    """Reconciles at once in all (`--reconciles`; `--workers` is the number of processes)."""
    per_cluster: int = 4
    deletion_budget: str = "20%"
    shutdown_grace: float = 30.0
    webhook_secrets: WebhookSecrets = field(default_factory=WebhookSecrets)
    http: HttpLimits = field(default_factory=HttpLimits)
    render_tools: RenderTools | None = None
    manager: ManagerSettings = field(default_factory=ManagerSettings)
    wave_timeout: float = 120.0
    appset_limits: ExpansionLimits = DEFAULT_LIMITS
    """Bounds of one ApplicationSet's expansion (`--appset-timeout` and friends)."""
    sharding: ShardSettings | None = None
    """Replicas sharing the clusters through hub Leases; None: this process owns everything
    and runs the ApplicationSet controller (no Leases written)."""
    require_render_sandbox: bool = False
    """`--require-render-sandbox`: no helm/kustomize run without Landlock confinement."""
    allow_generator_repos_outside_project: bool = False
    """`--allow-generator-repos-outside-project`: git generators may read repositories the
    generated Applications' Projects do not permit (Argo CD's behaviour)."""
    exec_policy: ExecPolicy = NO_EXEC
    """Exec plugins hub Secrets may run (`--exec-plugin-allow`); default none."""
    dashboard: bool = True
    """The web dashboard under /dashboard/ on `--listen` (`--no-dashboard` turns it off)."""
    in_cluster_enabled: bool = True
    """Argo CD's `cluster.inClusterEnabled` (`--no-in-cluster` turns it off): the hub is the
    destination `https://kubernetes.default.svc` / `in-cluster`, reached with the controller's
    own hub credentials, and the clusters generator's implicit local cluster."""
    notifications: NotifySettings = field(default_factory=NotifySettings)
    """Argo CD-style notifications (fleet.notify), sent where the ApplicationSet controller
    runs; `enabled=False` (`--no-notifications`) turns them off."""


def _own_credentials(hub: ApiClient) -> Credentials | None:
    """The credentials the hub client was built from (fleet.kube.build_api_client keeps
    them); None for a client built otherwise (then the hub is no destination)."""
    credentials = getattr(hub, "credentials", None)
    if isinstance(credentials, Credentials):
        return credentials
    log.warning("controller.in_cluster_unavailable", reason="hub client has no credentials")
    return None


class _Started:
    """A TaskStatus for a task on the liveness loop whose start the main loop waits for."""

    def __init__(self, notify: Callable[[], None]) -> None:
        self._notify = notify

    def started(self, value: None = None) -> None:
        self._notify()


class Controller:
    def __init__(
        self,
        hub: ApiClient,
        settings: ControllerSettings,
        *,
        hub_factory: Callable[[], ApiClient] | None = None,
    ) -> None:
        """`hub_factory` builds the liveness loop's own hub client (default: a sibling of
        `hub` with its own connection pool)."""
        self.hub = hub
        self.settings = settings
        self._hub_factory = hub_factory
        self.liveness: LivenessLoop | None = None
        self.health_port = 0
        self._shards_changed = anyio.Event()
        self.metrics = Metrics()
        self.port = 0
        self.listening = anyio.Event()
        """Set once both ports are bound (`port`, `health_port`), before the hub is read."""
        self.applications: ApplicationController | None = None
        self.appsets: ApplicationSetController | None = None
        self._shared_apps = SharedObjects()
        """One copy of each Application version for both controllers' watches."""
        self.notifier: Notifier | None = None
        self.notify_metrics = NotifyMetrics(self.metrics.registry)
        self.dashboard: Dashboard | None = None
        self._scope: anyio.CancelScope | None = None
        self._ready = False
        # -- sharding --
        self.coordinator: ShardCoordinator | None = None
        if settings.sharding is not None:
            shard = settings.sharding
            self.coordinator = ShardCoordinator(
                hub,
                settings.namespace,
                shard.identity,
                shard.shards,
                shard.lease_duration,
                shard.renew_interval,
            )
            self.metrics.registry.register(ShardCollector(self.coordinator))
        in_cluster = _own_credentials(hub) if settings.in_cluster_enabled else None
        if in_cluster is not None and isinstance(hub, FleetApiClient):
            hub.heard_as = IN_CLUSTER_NAME  # the hub's watches stand in for in-cluster probes
        # The registry follows the shards: clients, probes and status only for this replica's.
        self.registry = HubRegistry(
            hub,
            settings.namespace,
            cluster_kind=settings.flavour.cluster,
            exec_policy=settings.exec_policy,
            owns=self.coordinator.owns_cluster if self.coordinator else None,
            in_cluster=in_cluster,
        )
        self._pairs: tuple[object, list[tuple[str, str]]] = (None, [])
        # -- end sharding --

    # -- what the parts ask each other ---------------------------------------------------------

    def _cluster_pairs(self) -> Iterable[tuple[str, str]]:
        registered = self.registry.registered
        if self._pairs[0] is not registered:  # a resync replaced it (never changed in place)
            self._pairs = (registered, [(c.name, c.server) for c in registered.values()])
        return self._pairs[1]

    def _generator_clusters(self) -> Sequence[GeneratorCluster]:
        if not self.registry.synced.is_set():
            raise ClustersUnavailable("the hub's Cluster list has not been read yet")
        # The implicit in-cluster has no Secret: the generator adds it by Argo CD's own rules.
        return generator_clusters(
            c for c in self.registry.registered.values() if c.source != "InCluster"
        )

    def _not_ready(self) -> str | None:
        if not self.registry.synced.is_set():
            return "cluster registry not synced"
        if not self._ready:
            return "controllers starting"
        return None

    # -- running ----------------------------------------------------------------------------------

    def _liveness_hub(self) -> ApiClient:
        if self._hub_factory is not None:
            return self._hub_factory()
        if isinstance(self.hub, FleetApiClient):
            return self.hub.sibling()
        return ApiClient(self.hub.configuration)

    def _on_shards_changed(self) -> None:
        """On the main loop, whenever the liveness loop's coordinator gains or loses shards."""
        event, self._shards_changed = self._shards_changed, anyio.Event()
        event.set()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        settings = self.settings
        tools = settings.render_tools or RenderTools.discover()
        if settings.require_render_sandbox:
            tools = dataclasses.replace(tools, require_sandbox=True)
        report_sandbox(self.metrics.registry, tools)
        with anyio.CancelScope() as scope:
            self._scope = scope
            async with (
                LivenessLoop(self._liveness_hub) as live,
                ClusterManager(settings.manager, self.registry.write_status) as manager,
                RepoCache(settings.cache_dir) as cache,
                anyio.create_task_group() as tg,
            ):
                self.registry.attach(manager)
                repos = RepoHub(cache, self.registry.secrets_now)
                self.metrics.observe_clusters(manager.known)
                self.applications = ApplicationController(
                    self.hub,
                    settings.namespace,
                    manager=manager,
                    clusters=self._cluster_pairs,
                    repos=repos,
                    tools=tools,
                    settings=AppControllerSettings(
                        resync_period=settings.resync_period,
                        workers=settings.reconciles,
                        per_cluster=settings.per_cluster,
                        wave_timeout=settings.wave_timeout,
                        in_cluster_enabled=settings.in_cluster_enabled,
                        argocd_tracking=settings.argocd_tracking,
                    ),
                    metrics=self.metrics,
                    owns=self._owns_application_cluster if self.coordinator else None,
                    flavour=settings.flavour,
                    shared=self._shared_apps,
                )
                # A retired client (shard moved, credentials rotated) ends its shared watches.
                manager.on_retire(self.applications.watches.drop)
                manager.busy_with = self.applications.queue.busy_with
                self.appsets = self._new_appsets(repos)
                apps, appsets = self.applications, self.appsets
                self.metrics.add_state(
                    lambda: (
                        {"applications": apps.queue, "appsets": self.appsets.queue}
                        if self.appsets is not None
                        else {"applications": apps.queue}
                    ),
                    apps.status_counts,
                    manager.concurrency,
                )
                self.metrics.add_clusters(manager.healths, lambda: manager.probes_deferred)
                apps.queue.on_wait = self.metrics.observe_wait("applications")
                self.liveness = live
                tg.start_soon(live.beat)
                # The configured port first: an ephemeral health port (`:0`) bound before it
                # could be handed the very port the operator (or a test) chose for --listen.
                runner = await self._serve(cache)
                if self.dashboard is not None:
                    tg.start_soon(run_for_controller, self, self.dashboard)
                health: HttpServer | None = None
                try:
                    health = await self._serve_health(live)
                    self.listening.set()
                    # -- sharding: leases first, so a lone replica owns all before it starts
                    # (and its registry builds every client at its first resync, as without) --
                    if self.coordinator is not None:
                        await self._start_coordinator(live, self.coordinator)
                        tg.start_soon(self._follow_shards)
                    tg.start_soon(self.registry.run)
                    await self.registry.synced.wait()
                    await tg.start(apps.run)
                    if self.coordinator is None:
                        await tg.start(appsets.run)
                        tg.start_soon(self._notify)
                    else:
                        await tg.start(self._lead, self.coordinator, repos)
                    # -- end sharding --
                    tg.start_soon(Poller(cache, interval=settings.git_poll_interval).run)
                    tg.start_soon(self._follow_clusters, manager)
                    self._ready = True
                    log.info("controller.started", namespace=settings.namespace, port=self.port)
                    task_status.started()
                    await anyio.sleep_forever()
                finally:
                    self._ready = False
                    with anyio.CancelScope(shield=True):
                        await runner.stop()
                        if health is not None:
                            await live.call(health.stop)
                    self.metrics.close()

    def _new_appsets(self, repos: RepoHub) -> ApplicationSetController:
        """A fresh ApplicationSet controller (one per leadership term), reported on /metrics."""
        appsets = ApplicationSetController(
            self.hub,
            self.settings.namespace,
            repos=repos,
            clusters=self._generator_clusters,
            settings=AppSetSettings(
                resync_period=self.settings.resync_period,
                deletion_budget=self.settings.deletion_budget,
                expansion=self.settings.appset_limits,
                in_cluster_enabled=self.settings.in_cluster_enabled,
                allow_generator_repos_outside_project=(
                    self.settings.allow_generator_repos_outside_project
                ),
            ),
            projects=lambda: self.applications.projects if self.applications else {},
            flavour=self.settings.flavour,
            shared=self._shared_apps,
        )
        appsets.queue.on_wait = self.metrics.observe_wait("appsets")
        return appsets

    # -- sharding ---------------------------------------------------------------------------------

    async def _start_coordinator(self, live: LivenessLoop, coordinator: ShardCoordinator) -> None:
        """Run the Lease rounds on the liveness loop, with its hub client, so reconcile load
        never delays a renewal; returns after the first round (a lone replica owns every shard
        by then)."""
        coordinator.hub = live.hub  # used only on the liveness loop from here on
        coordinator.on_change = notifier(self._on_shards_changed)
        first_round = anyio.Event()
        status = _Started(notifier(first_round.set))
        live.spawn(lambda: coordinator.run(task_status=status), "sharding")
        await first_round.wait()

    def _owns_application_cluster(self, cluster: str) -> bool:
        """An Application is reconciled here once its cluster's shard is held here AND the
        registry has followed (built the client): between the two, a reconcile would find
        no client and report a spurious ComparisonError."""
        assert self.coordinator is not None
        return self.coordinator.owns_cluster(cluster) and self.registry.serves(cluster)

    async def _follow_shards(self) -> None:
        """Shards gained or lost: the registry builds and drops clients first, then every
        Application looks again (gained ones are picked up at once, lost ones dropped by
        their next reconcile)."""
        changed = self._shards_changed
        while True:
            await changed.wait()
            changed = self._shards_changed  # a change during the refresh is not missed
            await self.registry.refresh()
            if self.applications is not None:
                self.applications.clusters_changed()

    async def _lead(
        self,
        coordinator: ShardCoordinator,
        repos: RepoHub,
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run the ApplicationSet controller while this replica leads (holds shard 0): a
        fresh one per term, cancelled when leadership is lost; started once the first
        decision is made (a lone replica starts its ApplicationSet controller first)."""
        started = False
        async with anyio.create_task_group() as tg:
            term: anyio.CancelScope | None = None
            while True:
                leader = coordinator.is_leader()
                if leader and term is None:
                    appsets = self.appsets if not started else self._new_appsets(repos)
                    assert appsets is not None
                    self.appsets = appsets
                    term = anyio.CancelScope()
                    if started:
                        tg.start_soon(self._term, appsets, term)
                    else:  # as without sharding: listed before the controller reports started
                        await tg.start(self._term, appsets, term)
                    log.info("controller.leading", replica=coordinator.identity)
                elif not leader and term is not None:
                    term.cancel()
                    term = None
                    log.info("controller.not_leading", replica=coordinator.identity)
                if not started:
                    started = True
                    task_status.started()
                await self._shards_changed.wait()

    async def _term(
        self,
        appsets: ApplicationSetController,
        scope: anyio.CancelScope,
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """One leadership term: the ApplicationSet controller and the notifier (one sender)."""
        with scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._notify)
                await appsets.run(task_status=task_status)

    async def _notify(self) -> None:
        """Notifications (fleet.notify), run only where the ApplicationSet controller runs,
        so a sharded deployment sends each one once; a fresh notifier per term."""
        if not self.settings.notifications.enabled:
            return
        apps = self.applications

        def make() -> Notifier:
            return Notifier(
                self.hub,
                self.settings.namespace,
                flavour=self.settings.flavour,
                secret=lambda: self.registry.secrets.get(NOTIFICATIONS_SECRET),
                metrics=self.notify_metrics,
                settings=self.settings.notifications,
                source=(
                    AppSource(lambda: apps.apps, apps.observers, lambda: apps.projects)
                    if apps is not None
                    else None
                ),
            )

        def started(notifier: Notifier) -> None:
            self.notifier = notifier

        await keep_running(make, started)

    # -- end sharding -----------------------------------------------------------------------------

    async def _serve(self, cache: RepoCache) -> HttpServer:
        """The one port, within the HTTP limits (deadlines, connection cap, body bounds)."""
        limits = self.settings.http
        app = make_app(
            cache, self.settings.webhook_secrets, self.metrics, self._not_ready, limits=limits
        )
        if self.settings.dashboard:
            self.dashboard = for_controller(self, app)
        server = HttpServer(app, limits=limits, metrics=self.metrics)
        self.port = await server.start(self.settings.listen_host, self.settings.listen_port)
        return server

    async def _serve_health(self, live: LivenessLoop) -> HttpServer | None:
        """The health port, served by the liveness loop (see fleet.server.health)."""
        port = self.settings.health_port
        if port is None:
            return None
        app = make_health_app(
            self._not_ready, live.main_loop_silence, stall=self.settings.liveness_stall
        )

        async def start() -> HttpServer:
            server = HttpServer(app, limits=self.settings.http)
            self.health_port = await server.start(self.settings.health_host, port)
            return server

        return await live.call(start)

    async def _follow_clusters(self, manager: ClusterManager) -> None:
        """Turn registry changes into requeues, only of what they concern: a cluster added,
        removed, moved or relabelled re-evaluates every ApplicationSet (generators read
        labels) and that cluster's Applications; a cluster turning Ready requeues its
        Applications (their backoff may be long). Health turning bad requeues nothing: those
        reconciles would only fail."""
        last_spec: dict[str, str] = {}
        last_ready: dict[str, bool | None] = {}
        servers: dict[str, str] = {}  # every server seen: a removed cluster's apps are found too
        first = True
        seen: object = None
        spec: dict[str, str] = {}
        while True:
            if self.registry.registered is not seen:  # replaced by a resync: compare again
                seen = self.registry.registered
                spec = {
                    c.name: json.dumps(
                        [c.server, sorted(c.labels.items()), sorted(c.annotations.items())]
                    )
                    for c in self.registry.registered.values()
                }
                servers.update({c.name: c.server for c in self.registry.registered.values()})
            ready = {n: manager.health(n).ready for n in manager.names()}
            assert self.applications is not None
            if not first:
                moved = (
                    {n for n in spec.keys() | last_spec.keys() if spec.get(n) != last_spec.get(n)}
                    if spec is not last_spec
                    else set()
                )
                healed = {
                    n for n, r in ready.items() if r is True and last_ready.get(n) is not True
                }
                if moved and self.appsets is not None:
                    self.appsets.clusters_changed()
                for name in moved | healed:
                    self.applications.cluster_changed(name, servers.get(name, ""))
            last_spec, last_ready, first = spec, ready, False
            await anyio.sleep(0.5)

    async def shutdown(self) -> None:
        """Graceful stop: finish in-flight reconciles (within the grace period), then cancel."""
        log.info("controller.stopping", grace=self.settings.shutdown_grace)
        if self.applications is not None:
            await self.applications.drain(self.settings.shutdown_grace)
        if self.coordinator is not None and self.liveness is not None:
            # Give the shards back (on the loop that holds them): others take over at once.
            await self.liveness.call(self.coordinator.release)
        if self._scope is not None:
            self._scope.cancel()
