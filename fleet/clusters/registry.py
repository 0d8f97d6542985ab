"""Keep the manager in step with the hub: Cluster resources, their Secrets, Argo CD Secrets.

Two list-then-watch loops (Clusters, Secrets of the hub namespace) fill local caches; any change
triggers a resync that computes the wanted set of clusters and credentials and calls
`manager.upsert`/`remove`. Upsert is a no-op for unchanged credentials, so a rotated Secret
rebuilds exactly the clients that use it, with no restart. Status is written back through the
Cluster's status subresource (Argo CD Secrets have no status: their health is in the manager).

A Cluster whose Secret is missing or malformed is not given a client; its status says why
(SecretNotFound, InvalidCredentials, ExecNotAllowed, InsecureServer, ServerMismatch) with the
key at fault, never a value. Every object is handled on its own: whatever goes wrong with one
Cluster or Secret (even an exception nobody foresaw) is reported on it (its status, or for an
Argo CD Secret a log line and an Event) and the others still register. Nothing here waits for
an exec plugin: a plugin runs in its cluster's own task, so a hanging one delays only its
cluster.

Warnings that do not change Ready are conditions too: `InsecureTLS` (verification off, and
which field said so) and `ServerChanged` (spec.server moved away from the server the Secret's
credentials were registered for, `status.server`, until the Secret is updated to confirm).

Sharding (`owns`): a replica builds clients for, probes, runs exec plugins of, and writes the
status and Events of only the clusters of the shards it holds; every replica still parses and
knows every registered cluster (`registered`: name, server, labels), since the leader's clusters
generator needs them all. Without it, N replicas (or `fleet controller run --workers N`) would
multiply probes, client memory and status writes by N. `refresh()` after the shards move builds
and drops clients at once.
"""

from __future__ import annotations

import ssl
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
import structlog
from anyio.abc import TaskGroup
from kubernetes_asyncio.client import ApiClient

from fleet.api.cluster import GROUP, VERSION, Cluster, InvalidClusterError, parse_cluster
from fleet.api.group import FLEET_CLUSTER, Kind
from fleet.clusters.credentials import (
    NO_EXEC,
    CredentialsError,
    ExecConfig,
    ExecNotAllowed,
    ExecPolicy,
    ExecProvider,
    InsecureServer,
    SecretCredentials,
    ServerMismatch,
    check_transport,
    is_argocd_secret,
    parse_argocd_secret,
    parse_secret,
    secret_data,
    to_credentials,
)
from fleet.clusters.manager import ClusterHealth, ClusterManager
from fleet.kube import Credentials, KubeError, NotFound, request_json
from fleet.kube.events import ObjectRef, record_event
from fleet.kube.watch import list_and_watch
from generators.base import IN_CLUSTER_NAME, IN_CLUSTER_SERVER

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
    """"Cluster" (a fleet Cluster resource), "ArgoCDSecret", or "InCluster" (the hub itself,
    implicit: no Secret registers https://kubernetes.default.svc)."""


@dataclass(frozen=True, slots=True)
class Notes:
    """Warnings about a registered Cluster that leave Ready as it is."""

    secret: str
    registered: str
    """`status.server`: the server the Secret's credentials are registered for."""
    server: str
    """spec.server, where they are sent now (ServerChanged while it is not `registered`)."""
    insecure: str | None = None
    """The field that turned TLS verification off (the InsecureTLS condition)."""


def _meta(obj: Any) -> Mapping[str, Any]:
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    return meta if isinstance(meta, Mapping) else {}


def _name(obj: Any) -> str | None:
    """The object's name; None for a malformed object (skipped, not a KeyError)."""
    name = _meta(obj).get("name")
    return name if isinstance(name, str) and name else None


def _status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, Mapping) else {}


def _slim(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop managedFields (most of an object's size, never read here): 1,000 Clusters and
    Secrets are cached in memory."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return obj


def _same_generation(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """True for a status-only change of a custom resource (its generation did not move)."""
    before, after = _meta(old).get("generation"), _meta(new).get("generation")
    return isinstance(before, int) and before == after


def _explain(error: Exception) -> tuple[str, str]:
    """The condition reason and message for an error while registering one object. Messages
    of errors fleet raises name fields, never values; any other exception is shown by type
    only (its text could hold a value) and logged with where it was raised."""
    if isinstance(error, ExecNotAllowed):
        return "ExecNotAllowed", str(error)
    if isinstance(error, InsecureServer):
        return "InsecureServer", str(error)
    if isinstance(error, ServerMismatch):
        return "ServerMismatch", str(error)
    if isinstance(error, InvalidClusterError | CredentialsError):
        return "InvalidCredentials", str(error)
    if isinstance(error, ssl.SSLError):  # unreadable CA or client certificate PEM
        return "InvalidCredentials", f"TLS material: {error.reason or 'unreadable'}"
    if isinstance(error, NotFound):
        return "SecretNotFound", error.message
    frames = traceback.extract_tb(error.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    log.error("cluster.registration_failed", error_type=type(error).__name__, at=where)
    return (
        "InternalError",
        f"unexpected {type(error).__name__} while registering (a fleet bug: see the "
        "controller log, cluster.registration_failed); other clusters are not affected",
    )


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


def status_document(
    health: ClusterHealth, previous: Mapping[str, Any], notes: Notes | None = None
) -> dict[str, Any]:
    """The `status` of a Cluster for `health` (conditions Ready and Reachable) and, for a
    registered one, its `notes` (conditions InsecureTLS and ServerChanged, `server`)."""
    now = _time(None)
    conditions = previous.get("conditions")
    old = list(conditions) if isinstance(conditions, list) else []
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
    if notes is not None:
        status["conditions"] += _note_conditions(notes, old, now)
        status["server"] = notes.registered
    if health.last_probe is not None:
        status["lastProbeTime"] = _time(health.last_probe)
    if health.server_version:
        status["serverVersion"] = health.server_version
    if health.latency_ms is not None:
        status["latencyMs"] = health.latency_ms
    return status


def _note_conditions(notes: Notes, old: list[Any], now: str) -> list[dict[str, str]]:
    if notes.insecure:
        insecure = (
            "True",
            "InsecureSkipVerify",
            f"TLS verification is off ({notes.insecure}): the server's identity is not "
            "checked, and anyone on the path can read the credentials",
        )
    else:
        insecure = ("False", "Verified", "")
    if notes.registered != notes.server:
        changed = (
            "True",
            "ServerChanged",
            f"spec.server changed from {notes.registered} to {notes.server}: the credentials "
            f"of Secret {notes.secret!r} were registered for the former and are now sent to "
            "the latter; if intended, update the Secret to confirm (setting its data.server "
            "binds them to one server)",
        )
    else:
        changed = ("False", "AsRegistered", "")
    return [
        _condition("InsecureTLS", *insecure, old, now),
        _condition("ServerChanged", *changed, old, now),
    ]


class HubRegistry:
    """Use: `async with ClusterManager(sink=registry.write_status)` then `await registry.run()`
    (or `tg.start_soon(registry.run)`); `registry.attach(manager)` before running.

    `exec_policy` says which exec plugins hub Secrets may run (default: none). `owns(name)`
    says whether this replica acts for a cluster (its shard is held here; "" stands for objects
    naming no cluster, the leader's); None: every cluster (no sharding). Call `refresh()` when
    its answers change."""

    def __init__(
        self,
        hub: ApiClient,
        namespace: str,
        *,
        request_timeout: float = 10.0,
        watch_timeout: int | None = None,
        resync_period: float = 60.0,
        exec_policy: ExecPolicy = NO_EXEC,
        owns: Callable[[str], bool] | None = None,
        cluster_kind: Kind | None = FLEET_CLUSTER,
        in_cluster: Credentials | None = None,
    ) -> None:
        self.hub = hub
        self.cluster_kind = cluster_kind
        """fleet's Cluster kind; None in Argo CD mode (`--api argocd`): cluster Secrets only."""
        self.in_cluster = in_cluster
        """The controller's own hub credentials when the hub is a destination (Argo CD's
        in-cluster, `https://kubernetes.default.svc`); None: it is not (`--no-in-cluster`)."""
        self.namespace = namespace
        self.request_timeout = request_timeout
        self.watch_timeout = watch_timeout
        self.resync_period = resync_period
        """A resync also runs this often without events: it renews exec-plugin client
        certificates past their expiry (tokens renew per request) and heals a missed event."""
        self.exec_policy = exec_policy
        self.owns = owns
        self._acting: dict[str, bool] = {}
        """Cluster -> whether the last resync acted for it (client, probes, status); read
        through `serves`, so the Application controller never uses a cluster of a newly held
        shard before its client exists."""
        self._resync_lock = anyio.Lock()
        self.manager: ClusterManager | None = None
        self.clusters: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, dict[str, Any]] = {}
        self._secrets_view: list[dict[str, Any]] | None = None
        self.registered: dict[str, RegisteredCluster] = {}
        """Replaced (never changed in place) by each resync: readers may cache by identity."""
        self._exec: dict[str, ExecProvider] = {}
        self._refreshing: set[ExecProvider] = set()
        self._problems: dict[str, tuple[str, str, bool]] = {}
        """Cluster -> (reason, message, reported by this replica) of its last problem."""
        self._secret_problems: dict[str, tuple[str, str, bool]] = {}
        self._notes: dict[str, Notes] = {}
        self._pins: dict[str, tuple[str, str, str]] = {}
        """Cluster -> (Secret name, its resourceVersion, the server pinned) at the last look."""
        self._status_locks: dict[str, anyio.Lock] = {}
        self._argocd_seen: dict[str, tuple[str, str | None]] = {}
        self._tg: TaskGroup | None = None
        self._changed = anyio.Event()
        self.synced = anyio.Event()
        """Set after the first resync that saw both lists."""
        self._listed: set[str] = set()

    def attach(self, manager: ClusterManager) -> None:
        self.manager = manager

    def secrets_now(self) -> list[dict[str, Any]]:
        """The hub Secrets as a list, rebuilt only after a Secret changed: every reconcile
        reads them for repository credentials, and at 1,000 clusters a fresh copy per read
        made that quadratic."""
        if self._secrets_view is None:
            self._secrets_view = list(self.secrets.values())
        return self._secrets_view

    @property
    def cluster_path(self) -> str:
        return (self.cluster_kind or FLEET_CLUSTER).collection(self.namespace)

    @property
    def secret_path(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}/secrets"

    # -- caches ----------------------------------------------------------------------------

    def _cache_reset(self, cache: dict[str, dict[str, Any]], which: str) -> Any:
        async def reset(items: list[dict[str, Any]]) -> None:
            cache.clear()
            for item in items:
                name = _name(item)
                if name is None:
                    log.warning("cluster.object_skipped", collection=which, error="no name")
                    continue
                cache[name] = _slim(item)
            self._listed.add(which)
            self._secrets_view = None
            self._changed.set()

        return reset

    def _cache_event(self, cache: dict[str, dict[str, Any]]) -> Any:
        async def event(kind: str, obj: dict[str, Any]) -> None:
            name = _name(obj)
            if name is None:
                log.warning("cluster.object_skipped", watch_event=kind, error="no name")
                return
            old = cache.get(name)
            if kind == "DELETED":
                cache.pop(name, None)
            else:
                cache[name] = _slim(obj)
            if cache is self.secrets:
                self._secrets_view = None
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
            self._tg = tg
            watched = [(self.secret_path, self.secrets, "secrets")]
            if self.cluster_kind is not None:
                watched.append((self.cluster_path, self.clusters, "clusters"))
            else:
                self._listed.add("clusters")  # no Cluster kind: never any
            for path, cache, which in watched:
                tg.start_soon(self._watch, path, cache, which)
            while True:
                with anyio.move_on_after(self.resync_period):
                    await self._changed.wait()
                self._changed = anyio.Event()
                if len(self._listed) == 2:
                    await self._guarded_resync()
                    self.synced.set()

    async def _guarded_resync(self) -> None:
        async with self._resync_lock:
            try:
                await self.resync()
            except Exception as error:  # each object is isolated; this is the net
                _explain(error)  # logs cluster.registration_failed with its place

    async def refresh(self) -> None:
        """Resync now (the shards moved): when this returns, the clusters `owns` now accepts
        have clients and the others none. A no-op before both hub lists are read (the first
        resync follows them)."""
        if len(self._listed) == 2:
            await self._guarded_resync()

    # -- sharding ----------------------------------------------------------------------------

    def _decide(self, name: str) -> bool:
        """Whether this resync acts for `name` (asked once per object and resync: the answer
        may change meanwhile on the thread that renews the Leases)."""
        acting = self.owns is None or self.owns(name)
        self._acting[name] = acting
        return acting

    def serves(self, name: str) -> bool:
        """Whether this replica acted for cluster `name` at the last resync (True for a name
        it never saw: nothing to wait for there)."""
        return self.owns is None or self._acting.get(name, True)

    # -- exec plugins ----------------------------------------------------------------------

    def _exec_provider(self, name: str, config: ExecConfig | None) -> ExecProvider | None:
        if config is None:
            self._exec.pop(name, None)
            return None
        self.exec_policy.check(config)
        provider = self._exec.get(name)
        if provider is None or provider.config != config:
            provider = ExecProvider(config, policy=self.exec_policy, cluster=name)
            self._exec[name] = provider
        return provider

    def _refresh_soon(self, name: str, provider: ExecProvider) -> None:
        """Run the plugin in a task of its own; the resync it triggers when done picks up a
        client certificate. Nothing waits for it: a hanging plugin delays only `name`."""
        if provider in self._refreshing or self._tg is None:
            return
        self._refreshing.add(provider)
        self._tg.start_soon(self._refresh, name, provider, name=f"exec {name}")

    async def _refresh(self, name: str, provider: ExecProvider) -> None:
        try:
            await provider.credential()
        except Exception as error:  # the probe reports it on the Cluster; retried at resync
            message = str(error) if isinstance(error, CredentialsError) else type(error).__name__
            log.warning("cluster.exec_plugin_failed", cluster=name, error=message)
            return
        finally:
            self._refreshing.discard(provider)
        if self._exec.get(name) is provider:
            self._changed.set()

    async def _upsert(
        self, name: str, creds: SecretCredentials, server: str, insecure: bool | None
    ) -> None:
        assert self.manager is not None
        if not self._acting.get(name, True):
            # Another replica's cluster: judged like any (an exec plugin the policy refuses
            # is a problem everywhere), but no client, no probe, no plugin run here.
            if creds.exec is not None:
                self.exec_policy.check(creds.exec)
            self._exec.pop(name, None)
            if name in self.manager:
                await self.manager.remove(name)
            return
        provider = self._exec_provider(name, creds.exec)
        exec_credential = None
        if provider is not None:
            exec_credential = provider.last
            needs_run = exec_credential is None or (
                exec_credential.client_cert_pem is not None and not provider.fresh()
            )
            if needs_run:  # never ran, or a client certificate near expiry
                self._refresh_soon(name, provider)
        credentials = to_credentials(
            creds,
            server,
            insecure=insecure,
            exec_provider=provider,
            exec_credential=exec_credential,
        )
        await self.manager.upsert(name, credentials, provider)

    # -- resync ----------------------------------------------------------------------------

    async def resync(self) -> None:
        """Make the manager's clusters match the hub caches, one object at a time."""
        assert self.manager is not None
        wanted: dict[str, RegisteredCluster] = {}
        for name, obj in list(self.clusters.items()):
            self._decide(name)
            try:
                wanted[name] = await self._from_cluster(parse_cluster(obj), obj)
                self._problems.pop(name, None)
            except Exception as error:  # one Cluster never stops the others
                await self._problem(name, obj, *_explain(error))
        for name, secret in list(self.secrets.items()):
            if not is_argocd_secret(secret):
                continue
            try:
                registered = await self._from_argocd_secret(name, secret, wanted)
                self._secret_problems.pop(name, None)
            except Exception as error:  # nor does one Argo CD Secret
                await self._secret_problem(name, secret, *_explain(error))
                continue
            if registered is not None:
                wanted[registered.name] = registered
        await self._local_cluster(wanted)
        for name in self.manager.names():
            if name not in wanted:
                await self.manager.remove(name)
                self._exec.pop(name, None)
                self._notes.pop(name, None)
        for name in set(self._pins) - set(self.clusters):
            self._pins.pop(name, None)
            self._status_locks.pop(name, None)
        for name in set(self._acting) - set(self.clusters) - set(wanted):
            self._acting.pop(name, None)
        for name in (set(self._secret_problems) | set(self._argocd_seen)) - set(self.secrets):
            self._secret_problems.pop(name, None)
            self._argocd_seen.pop(name, None)
        self.registered = wanted

    async def _local_cluster(self, wanted: dict[str, RegisteredCluster]) -> None:
        """Argo CD's implicit `in-cluster`: the hub through the controller's own credentials,
        unless a registered cluster already stands for its URL (or holds its name), or the
        switch is off. Sharded like any cluster (its shard is hashed from its name)."""
        if self.in_cluster is None or IN_CLUSTER_NAME in wanted:
            return
        if any(_same_url(c.server, IN_CLUSTER_SERVER) for c in wanted.values()):
            return
        assert self.manager is not None
        if self._decide(IN_CLUSTER_NAME):
            await self.manager.upsert(IN_CLUSTER_NAME, self.in_cluster, check_access=False)
        elif IN_CLUSTER_NAME in self.manager:
            await self.manager.remove(IN_CLUSTER_NAME)
        wanted[IN_CLUSTER_NAME] = RegisteredCluster(
            IN_CLUSTER_NAME, IN_CLUSTER_SERVER, source="InCluster"
        )

    async def _from_cluster(self, cluster: Cluster, obj: Mapping[str, Any]) -> RegisteredCluster:
        ref = cluster.spec.secret_ref
        secret = self.secrets.get(ref.name)
        if secret is None:
            raise NotFound(f"secret {ref.name!r} not found")
        creds = parse_secret(secret, ref.key)
        server = cluster.spec.server
        check_transport(server, "spec.server")
        if creds.server_field and creds.server and not _same_url(creds.server, server):
            raise ServerMismatch(
                f"spec.server: not the server Secret {ref.name!r} binds its credentials to "
                f"({creds.server_field}: {creds.server}); change both together"
            )
        notes = self._pin(cluster, obj, secret, creds)
        previous = self._notes.get(cluster.name)
        self._notes[cluster.name] = notes
        await self._upsert(cluster.name, creds, server, cluster.spec.insecure)
        if notes != previous:
            await self._announce(cluster.name, obj, notes, previous)
        return RegisteredCluster(
            cluster.name,
            server,
            dict(cluster.spec.labels),
            dict(cluster.spec.annotations),
            cluster.spec.project,
        )

    def _pin(
        self,
        cluster: Cluster,
        obj: Mapping[str, Any],
        secret: Mapping[str, Any],
        creds: SecretCredentials,
    ) -> Notes:
        """The server the Secret's credentials are registered for (`status.server`): the
        first server they were used with; it moves to spec.server only when the Secret
        itself changes (its owner confirms) or spec.server returns to it."""
        ref = cluster.spec.secret_ref
        version = str(_meta(secret).get("resourceVersion") or "")
        seen = self._pins.get(cluster.name)
        pinned = seen[2] if seen is not None else _status(obj).get("server")
        confirmed = seen is not None and seen[0] == ref.name and seen[1] != version
        if not isinstance(pinned, str) or not pinned or confirmed:
            pinned = cluster.spec.server
        self._pins[cluster.name] = (ref.name, version, pinned)
        if cluster.spec.insecure is not None:
            insecure = "spec.insecure" if cluster.spec.insecure else None
        else:
            insecure = creds.insecure_field
        return Notes(ref.name, pinned, cluster.spec.server, insecure)

    async def _announce(
        self, name: str, obj: Mapping[str, Any], notes: Notes, previous: Notes | None
    ) -> None:
        """Log (and record an Event for) a warning that newly appeared, and write it into
        the status now (the probe writes only when health changes)."""
        assert self.manager is not None
        if not self._acting.get(name, True):
            return  # the owner's to report
        ref = ObjectRef("Cluster", name, self.namespace, f"{GROUP}/{VERSION}", _uid(obj))
        was_changed = previous is not None and previous.registered != previous.server
        if notes.registered != notes.server and not was_changed:
            log.warning(
                "cluster.server_changed",
                cluster=name,
                secret=notes.secret,
                registered=notes.registered,
                server=notes.server,
            )
            message = _note_conditions(notes, [], "")[1]["message"]
            await record_event(self.hub, ref, "ServerChanged", message)
        if notes.insecure and (previous is None or not previous.insecure):
            log.warning("cluster.insecure_tls", cluster=name, field=notes.insecure)
            await record_event(
                self.hub, ref, "InsecureTLS", f"TLS verification is off ({notes.insecure})"
            )
        if previous is not None:  # a first registration's status comes with its first probe
            await self._write_status(name, self.manager.health(name))

    async def _from_argocd_secret(
        self, secret_name: str, secret: Mapping[str, Any], wanted: Mapping[str, Any]
    ) -> RegisteredCluster | None:
        raw_server = secret_data(secret).get("server", b"").decode(errors="replace").strip()
        local = _same_url(raw_server, IN_CLUSTER_SERVER)
        # The in-cluster Secret (Argo CD lets one register the hub to name or label it) may
        # carry no credentials: it is then served with the controller's own, as Argo CD does.
        creds = parse_argocd_secret(secret, require_auth=not (local and self.in_cluster))
        name = creds.name or ""
        server = creds.server or ""
        if name in wanted:
            return None  # a fleet Cluster of that name wins
        if local and self.in_cluster is None:
            return None  # in-cluster is disabled: Argo CD lists no cluster for that URL
        acting = self._decide(name)
        check_transport(server, "data.server")
        if acting:
            await self._argocd_notes(secret_name, secret, creds)
        if local and self.in_cluster is not None and not _has_auth(creds):
            if acting:
                await self._upsert_local(name, self.in_cluster)
            elif self.manager is not None and name in self.manager:
                await self.manager.remove(name)
        else:
            await self._upsert(name, creds, server, None)
        return RegisteredCluster(
            name,
            server,
            dict(creds.labels),
            dict(creds.annotations),
            creds.project,
            "ArgoCDSecret",
        )

    async def _argocd_notes(
        self, secret_name: str, secret: Mapping[str, Any], creds: SecretCredentials
    ) -> None:
        """An Argo CD Secret has no status: its warnings are log lines and Events on it."""
        server = creds.server or ""
        seen = self._argocd_seen.get(secret_name)
        if seen == (server, creds.insecure_field):
            return
        self._argocd_seen[secret_name] = (server, creds.insecure_field)
        ref = ObjectRef("Secret", secret_name, self.namespace, "v1", _uid(secret))
        if creds.insecure_field and (seen is None or seen[1] is None):
            log.warning(
                "cluster.insecure_tls",
                secret=secret_name,
                cluster=creds.name,
                field=creds.insecure_field,
            )
            message = f"TLS verification is off ({creds.insecure_field})"
            await record_event(self.hub, ref, "InsecureTLS", message)
        if seen is not None and seen[0] != server:
            log.warning(
                "cluster.server_changed",
                secret=secret_name,
                cluster=creds.name,
                registered=seen[0],
                server=server,
            )
            message = f"data.server changed from {seen[0]} to {server}"
            await record_event(self.hub, ref, "ServerChanged", message)

    async def _secret_problem(
        self, secret_name: str, secret: Mapping[str, Any], reason: str, message: str
    ) -> None:
        # Which cluster an unreadable Secret stands for is unknown: the leader reports it.
        acting = self.owns is None or self.owns("")
        if self._secret_problems.get(secret_name) == (reason, message, acting):
            return
        self._secret_problems[secret_name] = (reason, message, acting)
        self._argocd_seen.pop(secret_name, None)
        if not acting:
            return
        log.warning(
            "cluster.argocd_secret_invalid", secret=secret_name, reason=reason, error=message
        )
        ref = ObjectRef("Secret", secret_name, self.namespace, "v1", _uid(secret))
        await record_event(self.hub, ref, reason, message)

    async def _problem(self, name: str, obj: dict[str, Any], reason: str, message: str) -> None:
        assert self.manager is not None
        self._notes.pop(name, None)
        if name in self.manager:
            await self.manager.remove(name)
        acting = self._acting.get(name, True)
        if self._problems.get(name) == (reason, message, acting):
            return
        self._problems[name] = (reason, message, acting)
        if not acting:
            return  # the owner reports it (again when this replica becomes the owner)
        log.warning("cluster.not_registered", cluster=name, reason=reason, message=message)
        health = ClusterHealth(reachable=None, ready=False, reason=reason, message=message)
        await self._write_status(name, health)

    # -- status ----------------------------------------------------------------------------

    async def _upsert_local(self, name: str, credentials: Credentials) -> None:
        assert self.manager is not None
        self._exec.pop(name, None)
        await self.manager.upsert(name, credentials)

    async def write_status(self, name: str, health: ClusterHealth) -> None:
        """The manager's status sink: patch the Cluster's status subresource."""
        await self._write_status(name, health)

    async def _write_status(self, name: str, health: ClusterHealth) -> None:
        """One write at a time per Cluster, each from the latest health and notes, so a
        slower earlier write never lands last with stale content."""
        lock = self._status_locks.get(name)
        if lock is None:  # not setdefault: that would build a Lock on every status write
            lock = self._status_locks[name] = anyio.Lock()
        async with lock:
            obj = self.clusters.get(name)
            if obj is None:
                return  # an Argo CD Secret, or a Cluster deleted meanwhile
            if self.manager is not None and name in self.manager:
                health = self.manager.health(name)
            notes = self._notes.get(name)
            await self._patch_status(name, status_document(health, _status(obj), notes))

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


def _uid(obj: Mapping[str, Any]) -> str:
    uid = _meta(obj).get("uid")
    return uid if isinstance(uid, str) else ""


def _has_auth(creds: SecretCredentials) -> bool:
    return bool(creds.token or creds.client_cert_pem or creds.exec)


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")
