"""Horizontal scale-out: controller replicas share the clusters through Leases on the hub.

The clusters are split into `shards` shards by a stable hash of the cluster name (sha256, never
Python's salted `hash()`), so every replica computes the same split. Each shard has one
`coordination.k8s.io/v1` Lease `fleet-shard-<i>` in the hub namespace; the replica holding it
reconciles the Applications of that shard's clusters. Shard 0's holder is the leader (it runs the
ApplicationSet controller). With one shard this is plain leader election.

Each replica also holds a presence Lease `fleet-replica-<k>` (the lowest free or expired slot
k, so their number never exceeds the most replicas ever run at once, and nothing needs
deleting): a replica that has just started holds no shard yet, and the others could not see it
otherwise (they would never give up shards for it). Live replicas = holders of unexpired
presence Leases, plus self.
A replica's target is its fair share: shards // live, one more for the first shards % live
replicas in identity order (so 4 shards over 3 replicas are 2/1/1, not 2/2/0). Every round
(`renew_interval`) a replica renews what it holds, releases what exceeds its share (so a new
replica gets its part) and acquires free or expired shards up to its share.

Failure model:
- Graceful stop (`release`): the held Leases are cleared, others take over at their next round.
- Crash: the Leases expire `lease_duration` after their last renewal, then others take them.
- Cut off from the hub: a replica stops acting on a shard once `lease_duration` has passed since
  it *sent* its last successful renewal (measured on the local monotonic clock), which is never
  later than when the others may take it over, so two replicas never act on one shard at once
  (barring clock skew, below).

Shard counts must agree: with 2 shards a cluster is in `fleet-shard-i`, with 4 in
`fleet-shard-j`, two Leases that two replicas could hold at once. Every Lease carries the count
of its writer (annotation `fleet.gitops.dev/shards`); a replica seeing live Leases of another
count yields to the incumbents (the count of the oldest held shard Lease): it releases its
shards and takes none until those Leases are gone, so a rollout that changes `--shards` (or
`--workers`, which it defaults to) hands over like `Recreate` instead of acting twice.

Clock skew: whether another replica's Lease has expired is judged from the `renewTime` it wrote
(its wall clock) against this replica's wall clock. Replicas whose clocks differ by more than a
small part of `lease_duration` may take a shard over before its holder stops acting on it; keep
the nodes' clocks synchronised (NTP), as Kubernetes' own leader election assumes.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import structlog
from anyio.abc import TaskStatus
from kubernetes_asyncio.client import ApiClient
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from fleet.kube import Conflict, KubeError, NotFound, request_json

log = structlog.get_logger("fleet.sharding")

Obj = dict[str, Any]

LEASES = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
ROLE_LABEL = "fleet.gitops.dev/coordination"
"""On every Lease this module writes: `shard` or `replica`."""
SHARDS_ANNOTATION = "fleet.gitops.dev/shards"
"""On every Lease this module writes: the writer's shard count."""
SHARD_LEASE_PREFIX = "fleet-shard-"
REPLICA_LEASE_PREFIX = "fleet-replica-"


def shard_of(cluster: str, shards: int) -> int:
    """The shard of a cluster: stable across processes, versions and machines."""
    digest = hashlib.sha256(cluster.encode()).digest()
    return int.from_bytes(digest[:8], "big") % max(1, shards)


def shard_lease_name(index: int) -> str:
    return f"{SHARD_LEASE_PREFIX}{index}"


def replica_lease_name(slot: int) -> str:
    return f"{REPLICA_LEASE_PREFIX}{slot}"


def fair_share(shards: int, live: Iterable[str], identity: str) -> int:
    """How many shards `identity` should hold when `live` replicas share `shards`."""
    members = sorted(set(live) | {identity})
    base, extra = divmod(shards, len(members))
    return base + (1 if members.index(identity) < extra else 0)


def _micro_time(at: float) -> str:
    """Kubernetes MicroTime (RFC 3339 with microseconds, UTC)."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _named_holder(lease: Mapping[str, Any] | None) -> str:
    """The holderIdentity written in a Lease, expired or not."""
    return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")


def _shard_count(lease: Mapping[str, Any]) -> int | None:
    """The shard count of the Lease's writer; None if it does not say (an older fleet)."""
    meta = lease.get("metadata") or {}
    value = (meta.get("annotations") or {}).get(SHARDS_ANNOTATION)
    return int(value) if isinstance(value, str) and value.isdigit() else None


def lease_holder(lease: Mapping[str, Any], wall_now: float) -> str:
    """The holder of an unexpired Lease, or "" when it is free or expired."""
    spec = lease.get("spec") or {}
    holder = str(spec.get("holderIdentity") or "")
    if not holder:
        return ""
    renewed = _parse_time(spec.get("renewTime")) or _parse_time(spec.get("acquireTime"))
    duration = spec.get("leaseDurationSeconds")
    if renewed is None or not isinstance(duration, int | float):
        return ""  # malformed: treat as free rather than blocking the shard forever
    return holder if renewed + float(duration) >= wall_now else ""


@dataclass(frozen=True)
class ShardSettings:
    """How a replica joins the others (`fleet controller run --shards ...`)."""

    identity: str
    """Unique among the live replicas (default: hostname-pid)."""
    shards: int = 1
    lease_duration: float = 15.0
    renew_interval: float = 5.0


class ShardCoordinator:
    """Holds this replica's shards of the clusters through Leases on the hub."""

    def __init__(
        self,
        hub: ApiClient,
        namespace: str,
        identity: str,
        shards: int,
        lease_duration: float = 15.0,
        renew_interval: float = 5.0,
        *,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        if shards < 1:
            raise ValueError(f"--shards {shards}: expected at least 1")
        if not identity:
            raise ValueError("--replica-id: must not be empty")
        if lease_duration <= renew_interval:
            raise ValueError(
                f"--lease-duration {lease_duration}: must be longer than the renew interval "
                f"({renew_interval} s), or leases expire between renewals"
            )
        self.hub = hub
        self.namespace = namespace
        self.identity = identity
        self.shards = shards
        self.lease_duration = lease_duration
        self.renew_interval = renew_interval
        self.on_change = on_change
        self.request_timeout = max(0.5, min(5.0, renew_interval))
        self._held: dict[int, float] = {}
        """shard -> monotonic time until which this replica may act on it. Replaced, never
        mutated (`_hold`, `_drop`): the controller's main thread reads it while the liveness
        thread renews (fleet.controllers.liveness)."""
        self._leases: dict[int, Obj] = {}
        """The last version of each held shard Lease this replica wrote."""
        self._replica_lease: Obj | None = None
        self._changed = anyio.Event()
        self._last_owned: frozenset[int] = frozenset()
        self._stopped = False
        self._yielding = False
        self._lock = anyio.Lock()
        """One round or the release at a time (a release must not race a re-acquire)."""

    # -- what the controller asks -----------------------------------------------------------------

    def owned(self) -> frozenset[int]:
        """The shards this replica may act on now (empty once its leases may have lapsed)."""
        if self._stopped:
            return frozenset()
        now = time.monotonic()
        return frozenset(i for i, until in self._held.items() if now < until)

    def owns_cluster(self, name: str) -> bool:
        """True if this replica reconciles `name`; "" (no resolvable cluster) is the leader's."""
        if not name:
            return self.is_leader()
        return shard_of(name, self.shards) in self.owned()

    def is_leader(self) -> bool:
        return 0 in self.owned()

    async def wait_changed(self) -> None:
        """Until the owned shards change (gained, released, lost or lapsed)."""
        await self._changed.wait()

    def _notify_if_changed(self) -> None:
        owned = self.owned()
        if owned == self._last_owned:
            return
        log.info(
            "sharding.owned_changed",
            replica=self.identity,
            owned=sorted(owned),
            gained=sorted(owned - self._last_owned),
            lost=sorted(self._last_owned - owned),
        )
        self._last_owned = owned
        event, self._changed = self._changed, anyio.Event()
        event.set()
        if self.on_change is not None:
            self.on_change()

    # -- running ----------------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Renew, release and acquire every `renew_interval` until cancelled; started after
        the first round (a lone replica owns every shard by then). Cancellation releases
        nothing (as a crash): call `release` first for a graceful stop."""
        started = False
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._watch_lapses)
            while not self._stopped:
                try:
                    async with self._lock:
                        # A round stuck on a slow hub past the lease period is pointless:
                        # cut it, the held shards have lapsed by then anyway.
                        with anyio.move_on_after(self.lease_duration) as bounded:
                            if not self._stopped:
                                await self.round()
                        if bounded.cancelled_caught:
                            log.warning("sharding.round_timed_out", replica=self.identity)
                except Exception as error:  # never crash the loop: log, retry next round
                    log.warning(
                        "sharding.round_failed",
                        replica=self.identity,
                        error=str(error) or type(error).__name__,
                    )
                self._notify_if_changed()
                if not started:
                    started = True
                    task_status.started()
                await anyio.sleep(self.renew_interval)
            tg.cancel_scope.cancel()

    async def _watch_lapses(self) -> None:
        """Notice held shards lapsing while the hub does not answer (the round is stuck in
        its timeouts then), so the controller stops acting on them on time."""
        while True:
            await anyio.sleep(min(0.5, self.renew_interval / 2))
            self._notify_if_changed()

    async def round(self) -> None:
        """One pass: list the Leases, renew presence and held shards, rebalance, acquire."""
        path = LEASES.format(namespace=self.namespace)
        listing = await request_json(
            self.hub, "GET", path, query={"labelSelector": ROLE_LABEL}, timeout=self.request_timeout
        )
        items: list[Obj] = listing.get("items") or []
        by_name = {str(i["metadata"]["name"]): i for i in items}
        wall = time.time()

        await self._keep_presence(by_name, wall)
        if await self._yield_to_other_counts(by_name, wall):
            return
        live = {self.identity}
        for name, lease in by_name.items():
            if name.startswith(REPLICA_LEASE_PREFIX) and _shard_count(lease) in (None, self.shards):
                holder = lease_holder(lease, wall)
                if holder:
                    live.add(holder)
        target = fair_share(self.shards, live, self.identity)

        # Renew what we hold (or find out we lost it).
        for index in range(self.shards):
            current = by_name.get(shard_lease_name(index))
            held_here = index in self._held
            holder = _named_holder(current)
            if current is not None and holder == self.identity:
                await self._renew(index, current)
            elif held_here:
                self._lose(index, f"held by {holder!r} now" if holder else "released or deleted")

        # Give back what exceeds the fair share, highest shards first (shard 0 last: it
        # carries the leadership, moving it costs the ApplicationSet controller a restart).
        held = sorted(self.owned(), reverse=True)
        for index in held[: max(0, len(held) - target)]:
            await self._release(index)

        # Take free or expired shards up to the share, lowest first.
        for index in range(self.shards):
            if len(self.owned()) >= target:
                break
            if index in self._held:
                continue
            found = by_name.get(shard_lease_name(index))
            if found is None or not lease_holder(found, time.time()):
                await self._acquire(index, found)

    async def _yield_to_other_counts(self, by_name: Mapping[str, Obj], wall: float) -> bool:
        """True (after giving back every shard) when live shard Leases of replicas with another
        shard count are older than this replica's: they are the incumbents."""
        foreign: list[tuple[float, int]] = []
        mine: list[float] = []
        for name, lease in by_name.items():
            if not name.startswith(SHARD_LEASE_PREFIX):
                continue
            holder = lease_holder(lease, wall)
            acquired = _parse_time((lease.get("spec") or {}).get("acquireTime")) or wall
            count = _shard_count(lease)
            if holder == self.identity:
                mine.append(acquired)
            elif holder and count is not None and count != self.shards:
                foreign.append((acquired, count))
        theirs = min(foreign) if foreign else None
        if theirs is None or (mine and (min(mine), self.shards) < theirs):
            self._yielding = False
            return False  # no other count, or this replica's is the incumbent one
        if not self._yielding:  # once per episode, not every round
            self._yielding = True
            log.warning(
                "sharding.shard_count_mismatch",
                replica=self.identity,
                shards=self.shards,
                incumbent_shards=theirs[1],
                note="waiting until the replicas with the other --shards are gone",
            )
        for index in sorted(self._leases, reverse=True):
            await self._release(index)
        self._held = {}
        return True

    # -- Lease writes -----------------------------------------------------------------------------

    def _spec(self, previous: Mapping[str, Any] | None, sent: float) -> Obj:
        spec = dict((previous or {}).get("spec") or {})
        transitions = int(spec.get("leaseTransitions") or 0)
        if spec.get("holderIdentity") != self.identity:
            if spec.get("holderIdentity") or previous is not None:
                transitions += 1
            spec["acquireTime"] = _micro_time(sent)
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=math.ceil(self.lease_duration),
            renewTime=_micro_time(sent),
            leaseTransitions=transitions,
        )
        return spec

    def _doc(self, name: str, role: str, spec: Obj, previous: Mapping[str, Any] | None) -> Obj:
        metadata: Obj = {
            "name": name,
            "namespace": self.namespace,
            "labels": {ROLE_LABEL: role},
            "annotations": {SHARDS_ANNOTATION: str(self.shards)},
        }
        if previous is not None:
            metadata["resourceVersion"] = previous["metadata"]["resourceVersion"]
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": spec,
        }

    async def _write(self, name: str, doc: Obj, create: bool) -> Obj:
        path = LEASES.format(namespace=self.namespace)
        if create:
            written: Obj = await request_json(
                self.hub, "POST", path, body=doc, timeout=self.request_timeout
            )
        else:
            written = await request_json(
                self.hub, "PUT", f"{path}/{name}", body=doc, timeout=self.request_timeout
            )
        return written

    async def _renew(self, index: int, lease: Obj) -> None:
        sent = time.monotonic()
        name = shard_lease_name(index)
        doc = self._doc(name, "shard", self._spec(lease, time.time()), lease)
        try:
            written = await self._write(name, doc, create=False)
        except (Conflict, NotFound):
            self._lose(index, "changed by another replica")
            return
        except KubeError as error:
            log.warning(
                "sharding.renew_failed", replica=self.identity, shard=index, error=str(error)
            )
            return  # keep acting until our own expiry; the next round tries again
        self._hold(index, sent + self.lease_duration)
        self._leases[index] = written

    async def _acquire(self, index: int, lease: Obj | None) -> None:
        sent = time.monotonic()
        name = shard_lease_name(index)
        doc = self._doc(name, "shard", self._spec(lease, time.time()), lease)
        try:
            written = await self._write(name, doc, create=lease is None)
        except Conflict:
            return  # another replica was quicker (a 409 on create is AlreadyExists)
        except KubeError as error:
            log.warning(
                "sharding.acquire_failed", replica=self.identity, shard=index, error=str(error)
            )
            return
        self._hold(index, sent + self.lease_duration)
        self._leases[index] = written
        log.info("sharding.acquired", replica=self.identity, shard=index)

    async def _release(self, index: int) -> None:
        """Clear the holder so another replica takes the shard at once."""
        lease = self._leases.get(index)
        self._drop(index)
        self._leases.pop(index, None)
        if lease is None:
            return
        spec = dict(lease.get("spec") or {})
        spec.pop("holderIdentity", None)
        spec.pop("acquireTime", None)
        name = shard_lease_name(index)
        try:
            await self._write(name, self._doc(name, "shard", spec, lease), create=False)
        except KubeError as error:  # it expires by itself then
            log.warning(
                "sharding.release_failed", replica=self.identity, shard=index, error=str(error)
            )
            return
        log.info("sharding.released", replica=self.identity, shard=index)

    def _hold(self, index: int, until: float) -> None:
        self._held = {**self._held, index: until}

    def _drop(self, index: int) -> bool:
        if index not in self._held:
            return False
        self._held = {i: until for i, until in self._held.items() if i != index}
        return True

    def _lose(self, index: int, why: str) -> None:
        if self._drop(index):
            log.warning("sharding.lost", replica=self.identity, shard=index, reason=why)
        self._leases.pop(index, None)

    async def _keep_presence(self, by_name: Mapping[str, Obj], wall: float) -> None:
        """Renew this replica's presence slot, or take the lowest free or expired one."""
        slots = {
            int(name[len(REPLICA_LEASE_PREFIX) :]): lease
            for name, lease in by_name.items()
            if name.startswith(REPLICA_LEASE_PREFIX) and name[len(REPLICA_LEASE_PREFIX) :].isdigit()
        }
        mine = [k for k, lease in slots.items() if _named_holder(lease) == self.identity]
        if mine:
            slot = min(mine)
        else:
            slot = 0
            while slot in slots and lease_holder(slots[slot], wall):
                slot += 1
        lease = slots.get(slot)
        name = replica_lease_name(slot)
        doc = self._doc(name, "replica", self._spec(lease, time.time()), lease)
        try:
            self._replica_lease = await self._write(name, doc, create=lease is None)
        except Conflict:
            self._replica_lease = None  # another replica took the slot: the next round retries
        except KubeError as error:
            log.warning("sharding.presence_failed", replica=self.identity, error=str(error))

    async def release(self) -> None:
        """Graceful stop: give every shard back and withdraw, so the others take over at their
        next round instead of after the lease expiry. Bounded by the request timeouts."""
        self._stopped = True
        async with self._lock:
            await self._withdraw()
        self._notify_if_changed()

    async def _withdraw(self) -> None:
        for index in sorted(self._leases):
            await self._release(index)
        self._held = {}
        presence, self._replica_lease = self._replica_lease, None
        if presence is not None:
            spec = dict(presence.get("spec") or {})
            spec.pop("holderIdentity", None)
            name = str(presence["metadata"]["name"])
            try:
                await self._write(name, self._doc(name, "replica", spec, presence), create=False)
            except KubeError as error:  # it expires by itself then
                log.warning("sharding.presence_failed", replica=self.identity, error=str(error))


class ShardCollector(Collector):
    """`fleet_shards_owned` and `fleet_shard_leader` of one replica, read at scrape time."""

    def __init__(self, coordinator: ShardCoordinator) -> None:
        self.coordinator = coordinator

    def collect(self) -> Iterator[GaugeMetricFamily]:
        owned = self.coordinator.owned()
        yield GaugeMetricFamily(
            "fleet_shards_owned", "Shards of the clusters this replica holds", value=len(owned)
        )
        yield GaugeMetricFamily(
            "fleet_shard_leader",
            "1 if this replica holds shard 0 (runs the ApplicationSet controller)",
            value=1 if 0 in owned else 0,
        )
