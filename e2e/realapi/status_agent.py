"""A KWOK-like status agent: makes workloads on a kubelet-less API server look settled.

The real-apiserver harness runs no kubelet and no workload controllers (its kube-controller-manager
runs only ``e2e.realapi.cluster.CONTROLLERS``: no job controller), so nothing would ever write the
`status` of a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or Pod, and a GitOps controller
waiting for health (or for a hook Job) would wait forever. This agent watches those kinds on one
cluster and, a short delay after each change (0.5 s by default, so tests also see the in-between
Progressing state), writes the status their controllers would have written once done:
``fleet.sim.workload_status``, the same definition the in-process simulator uses.

An object is made to fail (a status Argo CD's rules read as Degraded, see that module) when its
annotation ``fleet.gitops.dev/sim-fail`` is ``"true"`` or its name (``name`` or
``namespace/name``) is in the agent's ``failing`` set, which may be changed while it runs.

Robustness rules (from the field notes on kubernetes_asyncio 36): typed APIs only, because the
dynamic client swallows HTTP errors; every call carries ``_request_timeout`` and sits inside
``anyio.fail_after``; every watch is ``async with watch.Watch()``; the list-then-watch loop is
ours (relist on 410 Gone, restart with capped exponential backoff on any other error).
Status is written with a JSON patch that first tests ``metadata.generation``, so a status computed
for an older spec is never stored over a newer spec.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import anyio
from anyio.abc import TaskGroup, TaskStatus
from kubernetes_asyncio import client as _client
from kubernetes_asyncio import watch as _watch
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.client.exceptions import ApiException

from fleet.sim.workload_status import SUPPORTED_KINDS, settled_status, status_is_settled

# kubernetes_asyncio ships py.typed but no annotations; calling its untyped functions from
# strictly typed code is an error, so the two modules are used through `Any` on purpose.
k8s: Any = _client
kwatch: Any = _watch

FAIL_ANNOTATION = "fleet.gitops.dev/sim-fail"
DEFAULT_DELAY = 0.5

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # kind, namespace, name
Obj = dict[str, Any]


class _Gone(Exception):
    """The watch's resourceVersion is too old (410): relist."""


@dataclass(frozen=True)
class _KindApi:
    kind: str
    api: str  # "apps", "batch", "core" or "autoscaling"
    plural: str  # method name fragment: deployment, stateful_set, pod, ...


_KINDS: dict[str, _KindApi] = {
    "Deployment": _KindApi("Deployment", "apps", "deployment"),
    "StatefulSet": _KindApi("StatefulSet", "apps", "stateful_set"),
    "DaemonSet": _KindApi("DaemonSet", "apps", "daemon_set"),
    "ReplicaSet": _KindApi("ReplicaSet", "apps", "replica_set"),
    "Job": _KindApi("Job", "batch", "job"),
    "Pod": _KindApi("Pod", "core", "pod"),
    "HorizontalPodAutoscaler": _KindApi(
        "HorizontalPodAutoscaler", "autoscaling", "horizontal_pod_autoscaler"
    ),
}
assert set(_KINDS) == SUPPORTED_KINDS


class StatusAgent:
    """Watches workloads on one cluster and writes their settled status.

    Run it inside a task group: ``await tg.start(agent.run)`` returns once every kind has been
    listed (objects created afterwards are seen by the watches); cancel the group to stop it.
    The agent does not own `api` (close it yourself).
    """

    def __init__(
        self,
        api: ApiClient,
        *,
        delay: float = DEFAULT_DELAY,
        failing: Collection[str] = (),
        namespace: str | None = None,
        kinds: Collection[str] = SUPPORTED_KINDS,
        request_timeout: float = 10.0,
        watch_timeout: int = 240,
        max_backoff: float = 5.0,
    ) -> None:
        unknown = set(kinds) - SUPPORTED_KINDS
        if unknown:
            raise ValueError(f"unsupported kinds: {sorted(unknown)}")
        self.delay = delay
        self.failing: set[str] = set(failing)
        self.namespace = namespace
        self.kinds = [_KINDS[k] for k in sorted(kinds)]
        self.request_timeout = request_timeout
        self.watch_timeout = watch_timeout
        self.max_backoff = max_backoff
        self.writes = 0  # successful status writes, for tests and logs
        self.errors = 0  # failed calls (each retried or recovered by the next relist)
        self._apis: dict[str, Any] = {
            "apps": k8s.AppsV1Api(api),
            "batch": k8s.BatchV1Api(api),
            "core": k8s.CoreV1Api(api),
            "autoscaling": k8s.AutoscalingV2Api(api),
        }
        self._sanitize: Callable[[Any], Any] = api.sanitize_for_serialization
        self._latest: dict[Key, Obj] = {}
        self._scheduled: set[Key] = set()
        self._writers = anyio.CapacityLimiter(8)
        self._tg: TaskGroup | None = None

    # -- public --------------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Watch every kind until cancelled; reports started after the first list of each."""
        listed = 0
        all_listed = anyio.Event()

        def one_listed() -> None:
            nonlocal listed
            listed += 1
            if listed == len(self.kinds):
                all_listed.set()

        async with anyio.create_task_group() as tg:
            self._tg = tg
            for kind in self.kinds:
                tg.start_soon(self._watch_kind, kind, one_listed)
            await all_listed.wait()
            task_status.started()

    def is_failing(self, obj: Mapping[str, Any]) -> bool:
        """Whether `obj` should get the failing status (annotation or the `failing` set)."""
        metadata = obj.get("metadata") or {}
        annotations = metadata.get("annotations") or {}
        if str(annotations.get(FAIL_ANNOTATION, "")).lower() == "true":
            return True
        name = str(metadata.get("name", ""))
        namespace = str(metadata.get("namespace", ""))
        return name in self.failing or f"{namespace}/{name}" in self.failing

    # -- list and watch ------------------------------------------------------------------------

    def _lister(self, kind: _KindApi) -> Callable[..., Awaitable[Any]]:
        api = self._apis[kind.api]
        if self.namespace is None:
            method: Callable[..., Awaitable[Any]] = getattr(
                api, f"list_{kind.plural}_for_all_namespaces"
            )
            return method
        namespaced = getattr(api, f"list_namespaced_{kind.plural}")
        namespace = self.namespace

        async def in_namespace(**kwargs: Any) -> Any:
            return await namespaced(namespace, **kwargs)

        # Watch finds the item type from the list method's docstring: keep it.
        in_namespace.__doc__ = namespaced.__doc__
        return in_namespace

    def _status_method(self, kind: _KindApi, verb: str) -> Callable[..., Awaitable[Any]]:
        """``patch_namespaced_<kind>_status`` / ``read_namespaced_<kind>_status``."""
        method: Callable[..., Awaitable[Any]] = getattr(
            self._apis[kind.api], f"{verb}_namespaced_{kind.plural}_status"
        )
        return method

    async def _watch_kind(self, kind: _KindApi, listed: Callable[[], None]) -> None:
        backoff = 0.2
        reported = False
        while True:
            try:
                version = await self._list(kind)
                if not reported:
                    reported = True
                    listed()
                backoff = 0.2
                while True:
                    version = await self._watch_once(kind, version)
            except _Gone:
                log.debug("%s watch expired; relisting", kind.kind)
            except Exception as exc:  # any failure restarts list+watch
                self.errors += 1
                log.warning("%s list/watch failed (%s); retrying in %.1fs", kind.kind, exc, backoff)
                await anyio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    async def _list(self, kind: _KindApi) -> str:
        lister = self._lister(kind)
        with anyio.fail_after(self.request_timeout + 5):
            reply = await lister(_request_timeout=self.request_timeout)
        for item in reply.items or []:
            obj: Obj = self._sanitize(item)
            obj["kind"] = kind.kind  # list items carry no kind
            self._consider(kind, obj)
        return str(reply.metadata.resource_version)

    async def _watch_once(self, kind: _KindApi, version: str) -> str:
        """Follow one watch request until the server ends it; returns the last resourceVersion.

        The server closes the watch after `watch_timeout` seconds; the client gives up when no
        byte (events or bookmarks) arrives for a minute longer, which catches a half-open socket.
        """
        lister = self._lister(kind)
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=self.request_timeout,
            sock_connect=self.request_timeout,
            sock_read=self.watch_timeout + 60,
        )
        async with kwatch.Watch() as stream:
            events = stream.stream(
                lister,
                resource_version=version,
                timeout_seconds=self.watch_timeout,
                allow_watch_bookmarks=True,
                _request_timeout=timeout,
            )
            try:
                async for event in events:
                    raw = event.get("raw_object")
                    if not isinstance(raw, dict):
                        continue
                    version = str(raw.get("metadata", {}).get("resourceVersion", version))
                    kind_of = event.get("type")
                    if kind_of == "BOOKMARK":
                        continue
                    raw.setdefault("kind", kind.kind)
                    if kind_of == "DELETED":
                        self._latest.pop(_key(kind, raw), None)
                        continue
                    self._consider(kind, raw)
            except ApiException as exc:
                if exc.status == 410:
                    raise _Gone() from exc
                raise
        return version

    # -- settling ------------------------------------------------------------------------------

    def _consider(self, kind: _KindApi, obj: Obj) -> None:
        key = _key(kind, obj)
        self._latest[key] = obj
        if key in self._scheduled:
            return  # the pending write will use this newest version
        desired = settled_status(obj, failing=self.is_failing(obj))
        if desired is None or status_is_settled(obj, desired):
            return
        if self._tg is None:
            return
        self._scheduled.add(key)
        self._tg.start_soon(self._settle, kind, key)

    async def _settle(self, kind: _KindApi, key: Key) -> None:
        written: Obj | None = None
        try:
            await anyio.sleep(self.delay)
            written = await self._write_with_retries(kind, key)
        finally:
            self._scheduled.discard(key)
        # A change that arrived while the write was in flight was not scheduled (the key was
        # busy): look at the newest version once more. Usually it is our own write coming back.
        latest = self._latest.get(key)
        if written is not None and latest is not None and latest is not written:
            self._consider(kind, latest)

    async def _write_with_retries(self, kind: _KindApi, key: Key) -> Obj | None:
        """Write the settled status of the newest version of `key`; returns the version used."""
        for attempt in range(5):
            obj = self._latest.get(key)
            if obj is None:
                return None  # deleted meanwhile
            desired = settled_status(obj, failing=self.is_failing(obj))
            if desired is None or status_is_settled(obj, desired):
                return None
            try:
                async with self._writers:
                    await self._write(kind, obj, desired)
                self.writes += 1
                return obj
            except ApiException as exc:
                self.errors += 1
                if exc.status == 404:
                    return None
                if exc.status in (409, 422):
                    # The generation moved on (the patch's test failed): use the newest object,
                    # reading it unless the watch has delivered it already.
                    await self._refresh(kind, key, obj)
                    continue
                log.warning("%s %s/%s: status write failed: %s", *key, exc.status)
            except (TimeoutError, aiohttp.ClientError) as exc:
                self.errors += 1
                log.warning("%s %s/%s: status write failed: %r", *key, exc)
            await anyio.sleep(min(self.max_backoff, 0.2 * math.pow(2, attempt)))
        log.warning("%s %s/%s: giving up until the next change or relist", *key)
        return None

    async def _write(self, kind: _KindApi, obj: Obj, desired: Mapping[str, Any]) -> None:
        metadata = obj.get("metadata") or {}
        patch: list[dict[str, Any]] = []
        generation = metadata.get("generation")
        if isinstance(generation, int):
            patch.append({"op": "test", "path": "/metadata/generation", "value": generation})
        # "add" on an existing member replaces it: the whole status, no stale fields left over.
        patch.append({"op": "add", "path": "/status", "value": dict(desired)})
        writer = self._status_method(kind, "patch")
        name, namespace = str(metadata.get("name")), str(metadata.get("namespace"))
        with anyio.fail_after(self.request_timeout + 5):
            await writer(name, namespace, patch, _request_timeout=self.request_timeout)

    async def _refresh(self, kind: _KindApi, key: Key, seen: Obj) -> None:
        if self._latest.get(key) is not seen:
            return
        reader = self._status_method(kind, "read")
        with anyio.fail_after(self.request_timeout + 5):
            fresh = await reader(key[2], key[1], _request_timeout=self.request_timeout)
        obj: Obj = self._sanitize(fresh)
        obj["kind"] = kind.kind
        if self._latest.get(key) is seen:
            self._latest[key] = obj


def _key(kind: _KindApi, obj: Mapping[str, Any]) -> Key:
    metadata = obj.get("metadata") or {}
    return kind.kind, str(metadata.get("namespace", "")), str(metadata.get("name", ""))


def api_client(server: str, ca_file: Path, token: str) -> ApiClient:
    """An ApiClient for one cluster from an explicit Configuration (never the global default),
    verifying TLS against the cluster's own CA file (no temp files, small memory)."""
    configuration = k8s.Configuration(host=server)
    configuration.ssl_ca_cert = str(ca_file)
    configuration.verify_ssl = True
    configuration.api_key = {"BearerToken": token}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    api: ApiClient = k8s.ApiClient(configuration=configuration)
    api.user_agent = "fleet-e2e-status-agent"
    return api
