"""Keep the manager in step with the hub: Cluster resources, their Secrets, Argo CD Secrets.

Two list-then-watch loops (Clusters, Secrets of the hub namespace) fill local caches; any change
triggers a resync that computes the wanted set of clusters and credentials and calls
`manager.upsert`/`remove`. Upsert is a no-op for unchanged credentials, so a rotated Secret
rebuilds exactly the clients that use it, with no restart. Status is written back through the
Cluster's status subresource (Argo CD Secrets have no status: their health is in the manager).

A Cluster whose Secret is missing or malformed is not given a client; its status says why
(SecretNotFound, InvalidCredentials) with the key at fault, never a value.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
import structlog
from kubernetes_asyncio.client import ApiClient

from fleet.api.cluster import GROUP, PLURAL, VERSION, Cluster, InvalidClusterError, parse_cluster
from fleet.clusters.credentials import (
    ARGOCD_SECRET_TYPE_LABEL,
    CredentialsError,
    ExecConfig,
    ExecProvider,
    SecretCredentials,
    is_argocd_secret,
    parse_argocd_secret,
    parse_secret,
    to_credentials,
)
from fleet.clusters.manager import ClusterHealth, ClusterManager
from fleet.kube import KubeError, NotFound, request_json
from fleet.kube.watch import list_and_watch

log = structlog.get_logger("fleet.clusters.registry")


@dataclass(frozen=True, slots=True)
class RegisteredCluster:
    """A cluster the registry knows, whichever way it was registered."""

    name: str
    server: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    project: str = ""
    source: str = "Cluster"
    """"Cluster" (a fleet Cluster resource) or "ArgoCDSecret"."""


def _slim(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop managedFields (most of an object's size, never read here): 1,000 Clusters and
    Secrets are cached in memory."""
    obj.get("metadata", {}).pop("managedFields", None)
    return obj


def _same_generation(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """True for a status-only change of a custom resource (its generation did not move)."""
    before, after = old["metadata"].get("generation"), new["metadata"].get("generation")
    return before is not None and before == after


def _time(ts: float | None) -> str:
    moment = datetime.fromtimestamp(ts, UTC) if ts is not None else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(
    kind: str, status: str, reason: str, message: str, previous: list[Any], now: str
) -> dict[str, str]:
    """A condition keeping its lastTransitionTime while its status does not change."""
    since = now
    for old in previous:
        if isinstance(old, Mapping) and old.get("type") == kind and old.get("status") == status:
            since = str(old.get("lastTransitionTime") or now)
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
    }


def status_document(health: ClusterHealth, previous: Mapping[str, Any]) -> dict[str, Any]:
    """The `status` of a Cluster for `health` (conditions Ready and Reachable)."""
    now = _time(None)
    old = list(previous.get("conditions") or [])
    if health.reachable is None:
        reachable = ("Unknown", health.reason)
    else:
        reachable = ("True", "Connected") if health.reachable else ("False", health.reason)
    ready = ("True", "Ready") if health.ready else ("False", health.reason)
    if health.ready is None:
        ready = ("Unknown", health.reason)
    status: dict[str, Any] = {
        "conditions": [
            _condition("Ready", *ready, health.message, old, now),
            _condition(
                "Reachable", *reachable, "" if health.reachable else health.message, old, now
            ),
        ],
    }
    if health.last_probe is not None:
        status["lastProbeTime"] = _time(health.last_probe)
    if health.server_version:
        status["serverVersion"] = health.server_version
    if health.latency_ms is not None:
        status["latencyMs"] = health.latency_ms
    return status


class HubRegistry:
    """Use: `async with ClusterManager(sink=registry.write_status)` then `await registry.run()`
    (or `tg.start_soon(registry.run)`); `registry.attach(manager)` before running."""

    def __init__(
        self,
        hub: ApiClient,
        namespace: str,
        *,
        request_timeout: float = 10.0,
        watch_timeout: int = 60,
        resync_period: float = 60.0,
    ) -> None:
        self.hub = hub
        self.namespace = namespace
        self.request_timeout = request_timeout
        self.watch_timeout = watch_timeout
        self.resync_period = resync_period
        """A resync also runs this often without events: it renews exec-plugin client
        certificates past their expiry (tokens renew per request) and heals a missed event."""
        self.manager: ClusterManager | None = None
        self.clusters: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, dict[str, Any]] = {}
        self.registered: dict[str, RegisteredCluster] = {}
        self._exec: dict[str, ExecProvider] = {}
        self._problems: dict[str, tuple[str, str]] = {}
        self._changed = anyio.Event()
        self.synced = anyio.Event()
        """Set after the first resync that saw both lists."""
        self._listed: set[str] = set()

    def attach(self, manager: ClusterManager) -> None:
        self.manager = manager

    @property
    def cluster_path(self) -> str:
        return f"/apis/{GROUP}/{VERSION}/namespaces/{self.namespace}/{PLURAL}"

    @property
    def secret_path(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}/secrets"

    # -- caches ----------------------------------------------------------------------------

    def _cache_reset(self, cache: dict[str, dict[str, Any]], which: str) -> Any:
        async def reset(items: list[dict[str, Any]]) -> None:
            cache.clear()
            for item in items:
                cache[item["metadata"]["name"]] = _slim(item)
            self._listed.add(which)
            self._changed.set()

        return reset

    def _cache_event(self, cache: dict[str, dict[str, Any]]) -> Any:
        async def event(kind: str, obj: dict[str, Any]) -> None:
            name = obj["metadata"]["name"]
            old = cache.get(name)
            if kind == "DELETED":
                cache.pop(name, None)
            else:
                cache[name] = _slim(obj)
            if kind == "MODIFIED" and old is not None and _same_generation(old, obj):
                return  # our own status write: nothing the resync would act on
            self._changed.set()

        return event

    async def _watch(self, path: str, cache: dict[str, dict[str, Any]], which: str) -> None:
        await list_and_watch(
            self.hub,
            path,
            on_reset=self._cache_reset(cache, which),
            on_event=self._cache_event(cache),
            server_timeout=self.watch_timeout,
            request_timeout=self.request_timeout,
        )

    async def run(self) -> None:
        """Watch the hub and resync on every change, until cancelled."""
        if self.manager is None:
            raise RuntimeError("attach(manager) first")
        async with anyio.create_task_group() as tg:
            for path, cache, which in (
                (self.cluster_path, self.clusters, "clusters"),
                (self.secret_path, self.secrets, "secrets"),
            ):
                tg.start_soon(self._watch, path, cache, which)
            while True:
                with anyio.move_on_after(self.resync_period):
                    await self._changed.wait()
                self._changed = anyio.Event()
                if len(self._listed) == 2:
                    await self.resync()
                    self.synced.set()

    # -- resync ----------------------------------------------------------------------------

    def _exec_provider(self, name: str, config: ExecConfig | None) -> ExecProvider | None:
        if config is None:
            self._exec.pop(name, None)
            return None
        provider = self._exec.get(name)
        if provider is None or provider.config != config:
            provider = self._exec[name] = ExecProvider(config)
        return provider

    async def _upsert(
        self, name: str, creds: SecretCredentials, server: str, insecure: bool | None
    ) -> None:
        assert self.manager is not None
        provider = self._exec_provider(name, creds.exec)
        exec_credential = await provider.credential() if provider is not None else None
        credentials = to_credentials(
            creds,
            server,
            insecure=insecure,
            exec_provider=provider,
            exec_credential=exec_credential,
        )
        await self.manager.upsert(name, credentials, provider)

    async def resync(self) -> None:
        """Make the manager's clusters match the hub caches."""
        assert self.manager is not None
        wanted: dict[str, RegisteredCluster] = {}
        for obj in list(self.clusters.values()):
            name = str(obj["metadata"]["name"])
            try:
                cluster = parse_cluster(obj)
                wanted[name] = await self._from_cluster(cluster)
                self._problems.pop(name, None)
            except (InvalidClusterError, CredentialsError) as error:
                await self._problem(name, obj, "InvalidCredentials", str(error))
            except ssl.SSLError as error:  # unreadable CA or client certificate PEM
                message = f"TLS material: {error.reason or 'unreadable'}"
                await self._problem(name, obj, "InvalidCredentials", message)
            except NotFound as error:
                await self._problem(name, obj, "SecretNotFound", error.message)
        for secret in list(self.secrets.values()):
            if not is_argocd_secret(secret):
                continue
            try:
                creds = parse_argocd_secret(secret)
            except CredentialsError as error:
                log.warning(
                    "cluster.argocd_secret_invalid",
                    secret=secret["metadata"]["name"],
                    error=str(error),
                )
                continue
            name = creds.name or ""
            if name in wanted or not creds.server:
                continue
            try:
                await self._upsert(name, creds, creds.server, None)
            except (CredentialsError, ssl.SSLError) as error:
                log.warning(
                    "cluster.argocd_secret_invalid",
                    secret=secret["metadata"]["name"],
                    error=str(error) if isinstance(error, CredentialsError) else "TLS material",
                )
                continue
            labels = dict((secret.get("metadata") or {}).get("labels") or {})
            labels.pop(ARGOCD_SECRET_TYPE_LABEL, None)
            wanted[name] = RegisteredCluster(
                name,
                creds.server,
                labels,
                dict((secret.get("metadata") or {}).get("annotations") or {}),
                creds.project,
                "ArgoCDSecret",
            )
        for name in self.manager.names():
            if name not in wanted:
                await self.manager.remove(name)
                self._exec.pop(name, None)
        self.registered = wanted

    async def _from_cluster(self, cluster: Cluster) -> RegisteredCluster:
        ref = cluster.spec.secret_ref
        secret = self.secrets.get(ref.name)
        if secret is None:
            raise NotFound(f"secret {ref.name!r} not found")
        creds = parse_secret(secret, ref.key)
        server = cluster.spec.server
        await self._upsert(cluster.name, creds, server, cluster.spec.insecure)
        return RegisteredCluster(
            cluster.name,
            server,
            dict(cluster.spec.labels),
            dict(cluster.spec.annotations),
            cluster.spec.project,
        )

    async def _problem(self, name: str, obj: dict[str, Any], reason: str, message: str) -> None:
        assert self.manager is not None
        if name in self.manager:
            await self.manager.remove(name)
        if self._problems.get(name) == (reason, message):
            return
        self._problems[name] = (reason, message)
        log.warning("cluster.not_registered", cluster=name, reason=reason, message=message)
        health = ClusterHealth(reachable=None, ready=False, reason=reason, message=message)
        await self._patch_status(name, status_document(health, obj.get("status") or {}))

    # -- status ----------------------------------------------------------------------------

    async def write_status(self, name: str, health: ClusterHealth) -> None:
        """The manager's status sink: patch the Cluster's status subresource."""
        obj = self.clusters.get(name)
        if obj is None:
            return  # an Argo CD Secret, or a Cluster deleted meanwhile
        await self._patch_status(name, status_document(health, obj.get("status") or {}))

    async def _patch_status(self, name: str, status: dict[str, Any]) -> None:
        try:
            await request_json(
                self.hub,
                "PATCH",
                f"{self.cluster_path}/{name}/status",
                body={"status": status},
                content_type="application/merge-patch+json",
                timeout=self.request_timeout,
            )
        except NotFound:
            return
        except KubeError as error:
            log.warning("cluster.status_write_failed", cluster=name, error=error.reason)
