"""The notifier: watches Applications and the notifications ConfigMap, decides what to send,
hands it to delivery, and records what was sent on each Application.

Why a task of its own, beside (not inside) the Application controller: a reconcile must never
wait for Slack. The notifier reads Applications from its own hub watch, so it sees what every
replica wrote, and runs only where the ApplicationSet controller runs (the leader of a sharded
deployment): exactly one sender.

Per Application (on every change of it, and of the configuration): its subscriptions
(fleet.notify.subscriptions) give trigger -> destinations; each trigger's conditions are
evaluated (fleet.notify.expr); a condition that is true and whose state key
(fleet.notify.state) is not yet recorded is queued for delivery, once (keys in flight are
remembered); a condition that is false forgets its key (re-arming it) unless it has an
oncePer value. A delivered notification's key is written to the annotation
`notified.notifications.argoproj.io` with a JSON merge patch touching only that key. A
notification that could not be rendered or delivered is reported (log, a Warning Event on the
Application naming the trigger and template or service, and the metric) and not retried until
the configuration changes or the condition re-arms; after a restart it is tried again.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import structlog
from anyio.abc import TaskStatus
from kubernetes_asyncio.client import ApiClient

from fleet.api.group import FLEET, ApiFlavour
from fleet.kube.calls import request_json
from fleet.kube.errors import KubeError, NotFound, ServerError, TooManyRequests, Unreachable
from fleet.kube.events import ObjectRef, record_event
from fleet.kube.watch import list_and_watch
from fleet.notify.config import CONFIGMAP, SECRET, NotifyConfig, parse_config
from fleet.notify.decide import decide
from fleet.notify.delivery import Delivery, Job, Outcome, RetryPolicy
from fleet.notify.http import Sender
from fleet.notify.metrics import NotifyMetrics
from fleet.notify.state import dump_state, load_state
from fleet.notify.subscriptions import NOTIFIED, Destination

log = structlog.get_logger("fleet.notify")

Obj = dict[str, Any]


@dataclass(frozen=True)
class NotifySettings:
    enabled: bool = True
    request_timeout: float = 10.0
    """Seconds one request to a receiver may take (then it is retried)."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    queue_size: int = 1000
    concurrency: int = 16
    max_response_bytes: int = 64 * 1024
    resync: float = 60.0
    """Every Application is evaluated again this often even when nothing about it changed,
    so conditions on time (`time.Now().Sub(...)`) are seen to turn true."""


@dataclass(frozen=True)
class AppSource:
    """Applications from a cache someone else keeps (the Application controller's watch), so
    the notifier needs no second watch and no second copy of every Application: the current
    objects, and the observer list called with (name, object or None when deleted) on each
    hub event. Objects are shared: the notifier never changes them."""

    snapshot: Callable[[], Mapping[str, Obj]]
    observers: list[Callable[[str, Obj | None], None]]
    projects: Callable[[], Mapping[str, Obj]] = dict
    """The Projects by name (their subscription annotations cover their Applications)."""


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _slim(obj: Obj) -> Obj:
    """managedFields dropped from an object this watch owns (most of its size, never read)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return obj


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    value = _meta(obj).get("annotations")
    return value if isinstance(value, Mapping) else {}


class Notifier:
    def __init__(
        self,
        hub: ApiClient,
        namespace: str,
        *,
        flavour: ApiFlavour = FLEET,
        secret: Callable[[], Mapping[str, Any] | None] | None = None,
        metrics: NotifyMetrics | None = None,
        settings: NotifySettings | None = None,
        source: AppSource | None = None,
    ) -> None:
        """`secret` returns the `argocd-notifications-secret` object from a cache the caller
        keeps (the cluster registry watches the namespace's Secrets); None: read it from the
        hub when the ConfigMap changes. `metrics`: made once per controller registry (a new
        Notifier per leadership term reuses them). `source`: Applications from the
        Application controller's cache (None: the notifier watches them itself)."""
        self.hub = hub
        self.namespace = namespace
        self.flavour = flavour
        self.settings = settings or NotifySettings()
        self.metrics = metrics or NotifyMetrics()
        self._secret = secret
        self._source = source
        self._fetched_secret: Mapping[str, Any] | None = None
        self.apps: dict[str, Obj] = {}
        self.config = NotifyConfig()
        self._config_key: tuple[Any, ...] = ()
        self._configmap: Obj | None = None
        self._state: dict[str, dict[str, int]] = {}
        self._inflight: set[tuple[str, str]] = set()
        self._failed: dict[str, set[str]] = {}
        self._reported: set[tuple[str, str]] = set()
        self._dirty: set[str] = set()
        self._to_write: set[str] = set()
        self._wake = anyio.Event()
        self._wake_writer = anyio.Event()
        self._apps_listed = anyio.Event()
        self._config_listed = anyio.Event()
        self._tg: anyio.abc.TaskGroup | None = None
        self.delivery: Delivery | None = None

    # -- running ----------------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Until cancelled; started once the Applications and the ConfigMap are listed."""
        settings = self.settings
        async with (
            Sender(settings.request_timeout, settings.max_response_bytes) as sender,
            anyio.create_task_group() as tg,
        ):
            self._tg = tg
            self.delivery = Delivery(
                sender,
                self.metrics,
                self._done,
                policy=settings.retry,
                queue_size=settings.queue_size,
                concurrency=settings.concurrency,
            )
            await tg.start(self.delivery.run)
            tg.start_soon(self._watch_configmap)
            if self._source is None:
                tg.start_soon(self._watch_apps)
            else:
                tg.start_soon(self._follow_source, self._source)
            tg.start_soon(self._write_states)
            await self._config_listed.wait()
            await self._apps_listed.wait()
            tg.start_soon(self._evaluate_loop)
            tg.start_soon(self._resync_loop)
            log.info("notify.started", namespace=self.namespace)
            task_status.started()

    async def _watch_configmap(self) -> None:
        async def reset(items: list[Obj]) -> None:
            found = [i for i in items if _meta(i).get("name") == CONFIGMAP]
            self._configmap = found[0] if found else None
            await self._config_changed()
            self._config_listed.set()

        async def event(kind: str, obj: Obj) -> None:
            if _meta(obj).get("name") != CONFIGMAP:
                return
            self._configmap = None if kind == "DELETED" else obj
            await self._config_changed()

        await list_and_watch(
            self.hub,
            f"/api/v1/namespaces/{self.namespace}/configmaps",
            on_reset=reset,
            on_event=event,
        )

    async def _watch_apps(self) -> None:
        async def reset(items: list[Obj]) -> None:
            listed = {str(_meta(i).get("name")): _slim(i) for i in items}
            for name in set(self.apps) - set(listed):
                self._forget(name)
            for name, app in listed.items():
                self._store(name, app)
            self._apps_listed.set()

        async def event(kind: str, obj: Obj) -> None:
            name = str(_meta(obj).get("name"))
            if kind == "DELETED":
                self._forget(name)
            else:
                _slim(obj)
                self._store(name, obj)

        await list_and_watch(
            self.hub,
            self.flavour.application.collection(self.namespace),
            on_reset=reset,
            on_event=event,
        )

    async def _follow_source(self, source: AppSource) -> None:
        def observe(name: str, app: Obj | None) -> None:
            if app is None:
                self._forget(name)
            else:
                self._store(name, app)

        source.observers.append(observe)
        try:
            for name, app in list(source.snapshot().items()):
                self._store(name, app)
            self._apps_listed.set()
            await anyio.sleep_forever()
        finally:
            source.observers.remove(observe)

    def _store(self, name: str, app: Obj) -> None:
        self.apps[name] = app
        self._mark(name)

    def _forget(self, name: str) -> None:
        self.apps.pop(name, None)
        self._state.pop(name, None)
        self._failed.pop(name, None)

    def _mark(self, name: str) -> None:
        self._dirty.add(name)
        self._wake.set()

    async def _config_changed(self) -> None:
        """Re-read the configuration (and the Secret): every Application is looked at again,
        and what failed under the old configuration may be tried again."""
        if self._secret is None:
            try:
                path = f"/api/v1/namespaces/{self.namespace}/secrets/{SECRET}"
                self._fetched_secret = await request_json(self.hub, "GET", path)
            except NotFound:
                self._fetched_secret = None
            except KubeError as error:
                log.warning("notify.secret_unreadable", secret=SECRET, error=error.reason)
        self._reload(force=True)

    def _current_secret(self) -> Mapping[str, Any] | None:
        return self._secret() if self._secret is not None else self._fetched_secret

    def _reload(self, *, force: bool = False) -> None:
        secret = self._current_secret()
        key = (
            _meta(self._configmap or {}).get("resourceVersion"),
            _meta(secret or {}).get("resourceVersion"),
            self._configmap is None,
            secret is None,
        )
        if key == self._config_key and not force:
            return
        self._config_key = key
        data = (self._configmap or {}).get("data")
        self.config = parse_config(data if isinstance(data, Mapping) else {}, secret)
        for problem in self.config.problems:
            log.warning("notify.config_problem", configmap=CONFIGMAP, problem=problem)
        insecure = [s.name for s in self.config.services.values() if s.insecure]
        for name in insecure:
            log.warning("notify.tls_verification_off", service=name)
        self.metrics.insecure.set(len(insecure))
        self._failed.clear()
        self._reported.clear()
        for name in self.apps:
            self._dirty.add(name)
        self._wake.set()

    # -- deciding ---------------------------------------------------------------------------------

    async def _resync_loop(self) -> None:
        while True:
            await anyio.sleep(self.settings.resync * random.uniform(0.9, 1.1))
            self._dirty.update(self.apps)
            self._wake.set()

    async def _evaluate_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            self._reload()
            names, self._dirty = self._dirty, set()
            for count, name in enumerate(sorted(names)):
                try:
                    self._evaluate(name)
                except Exception:  # one bad object never stops the notifier
                    log.exception("notify.evaluate_failed", app=name)
                if count % 100 == 99:
                    await anyio.sleep(0)  # a large fleet does not hold the loop

    def _evaluate(self, name: str) -> None:
        app = self.apps.get(name)
        if app is None:
            return
        state = self._state.get(name)
        if state is None:
            state = self._state[name] = load_state(_annotations(app))
        project = None
        if self._source is not None:
            spec = app.get("spec")
            project_name = spec.get("project") if isinstance(spec, Mapping) else None
            project = self._source.projects().get(str(project_name or "default"))
        decision = decide(
            app,
            self.config,
            state,
            skip=lambda key: (name, key) in self._inflight,
            failed=self._failed.setdefault(name, set()),
            project=project,
        )
        for what, trigger, message in decision.problems:
            self._report(name, app, what, message, trigger=trigger)
        for due in decision.due:
            self._queue(name, app, due.trigger, due.key, due.destination, due.send)
        if decision.rearmed:
            self._persist(name)

    def _queue(
        self, name: str, app: Obj, trigger: str, key: str, dest: Destination, send: tuple[str, ...]
    ) -> None:
        service = self.config.services.get(dest.service)
        if service is None:
            message = f"no service {dest.service!r} in {CONFIGMAP} (subscription to {trigger})"
            self._failed[name].add(key)
            self.metrics.notifications.labels(trigger, dest.service, "error").inc()
            self._report(name, app, f"service:{dest.service}", message, trigger=trigger)
            return
        data = {
            "app": copy.deepcopy(app),
            "context": dict(self.config.context),
            "serviceType": service.kind,
            "notificationType": service.kind,
            "recipient": dest.recipient,
        }
        job = Job(name, trigger, key, dest, service, self.config.templates, send, data)
        assert self.delivery is not None
        if self.delivery.submit(job):
            self._inflight.add((name, key))

    def _done(self, outcome: Outcome) -> None:
        job = outcome.job
        self._inflight.discard((job.app, job.key))
        if job.app not in self.apps:
            return
        if outcome.result == "sent":
            self._state.setdefault(job.app, {})[job.key] = int(time.time())
            self._persist(job.app)
            return
        self._failed.setdefault(job.app, set()).add(job.key)
        reason = "NotificationFailed"
        message = f"{job.trigger} to {job.destination}: {outcome.message}"
        self._event(job.app, self.apps[job.app], reason, message)

    # -- reporting and recording ------------------------------------------------------------------

    def _report(self, name: str, app: Obj, what: str, message: str, *, trigger: str = "") -> None:
        """A configuration or subscription problem, once per Application and configuration."""
        if (name, what) in self._reported:
            return
        self._reported.add((name, what))
        log.warning("notify.problem", app=name, trigger=trigger or None, problem=message)
        self._event(name, app, "NotificationFailed", message)

    def _event(self, name: str, app: Obj, reason: str, message: str) -> None:
        if self._tg is None:
            return
        kind = self.flavour.application
        ref = ObjectRef(
            kind.kind, name, self.namespace, kind.api_version, str(_meta(app).get("uid") or "")
        )

        async def write() -> None:
            await record_event(self.hub, ref, reason, message, warning=True)

        self._tg.start_soon(write)

    def _persist(self, name: str) -> None:
        self._to_write.add(name)
        self._wake_writer.set()

    async def _write_states(self) -> None:
        """Write changed sent-maps, each as a merge patch of the one annotation."""
        while True:
            await self._wake_writer.wait()
            self._wake_writer = anyio.Event()
            names, self._to_write = self._to_write, set()
            for name in sorted(names):
                if name not in self.apps or name not in self._state:
                    continue
                value = dump_state(self._state[name])
                if _annotations(self.apps[name]).get(NOTIFIED) == value:
                    continue
                body = {"metadata": {"annotations": {NOTIFIED: value}}}
                try:
                    await request_json(
                        self.hub,
                        "PATCH",
                        self.flavour.application.item(self.namespace, name),
                        body=body,
                        content_type="application/merge-patch+json",
                    )
                except NotFound:
                    continue
                except (ServerError, Unreachable, TooManyRequests) as error:
                    # Passing trouble: written again shortly (the state stays in memory).
                    log.warning("notify.state_not_written", app=name, error=error.reason)
                    self._to_write.add(name)
                    await anyio.sleep(1.0)
                    self._wake_writer.set()
                except KubeError as error:  # refused (e.g. annotations over the size limit)
                    log.warning("notify.state_refused", app=name, error=error.reason)


RESTART_DELAY = 5.0


async def keep_running(
    make: Callable[[], Notifier],
    started: Callable[[Notifier], None],
    *,
    delay: float = RESTART_DELAY,
) -> None:
    """Run notifiers made by `make`, a fresh one after any failure (logged, then a pause): a
    bug in the notifier, or an input it trips on, pauses notifications, never the controller
    it runs in."""
    while True:
        notifier = make()
        started(notifier)
        try:
            await notifier.run()
        except Exception:
            log.exception("notify.crashed", restart_in=delay)
        await anyio.sleep(delay)
