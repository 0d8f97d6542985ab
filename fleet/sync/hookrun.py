"""Running resource hooks during a sync: create, wait until finished, apply delete policies.

The engine asks for the hooks of one phase (or of one wave of the Sync phase); this module
creates them, waits until each has finished (`fleet.sync.hooks.progress`), records them in
`operationState.syncResult.resources` with `hookType` and `hookPhase`, deletes them as their
delete policies say, and raises `HookFailed` naming the first failed hook.

Why a fingerprint annotation: a controller restarted in the middle of a sync re-runs it. A hook
of the same name that is still running and was made from the same manifest is that sync's own
hook: it is waited for, not deleted and created again (which would, for a migration Job, kill
it half-way). A running hook made from another manifest is an older run: BeforeHookCreation
replaces it, as Argo CD does.

Waits are bounded: each wave of hooks gets `hook_timeout` seconds (the engine's, 600 s by
default), after which the hooks still running fail the sync (they are left in place). Argo CD
waits without limit; a Job's own `activeDeadlineSeconds` is the way to bound the work itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio

from fleet.kube import KubeError, NotFound
from fleet.sync import apply as applier
from fleet.sync import hooks, ordering
from fleet.sync.discovery import Resource, UnknownKind
from fleet.sync.inventory import Key, key_of
from fleet.sync.status import ResourceResult

if TYPE_CHECKING:
    from fleet.sync.engine import SyncEngine

Obj = dict[str, Any]

FINGERPRINT = "fleet.gitops.dev/hook-fingerprint"
"""sha256 of the hook's desired document: which manifest a live hook was made from."""


class HookFailed(Exception):
    """A hook failed, timed out or could not be created; the message names it and why."""


@dataclass
class HookTask:
    """One hook in one phase of one sync."""

    phase: str
    obj: Obj  # named (generateName resolved), not yet stamped or namespaced
    wave: int
    policies: frozenset[str]
    resource: Resource | None = None
    key: Key = ("", "", "", "")
    result: ResourceResult | None = None
    uid: str = ""
    done: bool = False
    live: Obj | None = None
    """The hook as last seen on the cluster; None once deleted (or never created)."""

    @property
    def label(self) -> str:
        _group, kind, namespace, name = self.key if self.key[3] else key_of(self.obj)
        where = f" in namespace {namespace}" if namespace else ""
        return f"{self.phase} hook {kind}/{name}{where}"


@dataclass
class HookPlan:
    """Every hook of one sync, by phase."""

    by_phase: dict[str, list[HookTask]] = field(default_factory=dict)

    def phase(self, name: str) -> list[HookTask]:
        return self.by_phase.get(name, [])


def plan(manifests: Sequence[Mapping[str, Any]], revision: str, started_at: str) -> HookPlan:
    """The hook tasks of a sync (pure): one per hook and phase it runs in, named."""
    started = int(
        datetime.strptime(started_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    )
    out = HookPlan()
    for manifest in manifests:
        if not hooks.is_hook(manifest):
            continue
        for phase in hooks.phases(manifest):
            obj: Obj = json.loads(json.dumps(manifest))
            meta = obj.setdefault("metadata", {})
            if not meta.get("name"):
                prefix = str(meta.get("generateName") or "")
                meta["name"] = hooks.generated_name(prefix, revision, phase, started)
            task = HookTask(
                phase, obj, ordering.wave_of(obj), hooks.delete_policies(manifest), key=key_of(obj)
            )
            out.by_phase.setdefault(phase, []).append(task)
    return out


def waves(tasks: Sequence[HookTask]) -> list[list[HookTask]]:
    """Hooks grouped by wave, ascending; within a wave in apply order (kind, then name)."""
    groups: dict[int, list[HookTask]] = {}
    for task in sorted(tasks, key=lambda t: ordering.sort_key(t.obj)[2:]):
        groups.setdefault(task.wave, []).append(task)
    return [groups[w] for w in sorted(groups)]


def fingerprint(obj: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:32]


class HookRunner:
    """The hook side of one SyncEngine (its client, discovery, timeouts and results)."""

    def __init__(self, engine: SyncEngine) -> None:
        self.engine = engine

    async def run(self, tasks: Sequence[HookTask], results: list[ResourceResult]) -> None:
        """Run these hooks wave by wave; raise HookFailed once a wave has a failed hook."""
        for wave in waves(tasks):
            await self.start(wave, results)
            await self.wait(wave)

    async def start(self, tasks: Sequence[HookTask], results: list[ResourceResult]) -> None:
        """Create (or adopt) each hook; a hook that cannot be created fails at once."""
        failures: list[str] = []

        async def one(task: HookTask) -> None:
            try:
                await self._start_one(task, results)
            except (KubeError, UnknownKind, HookFailed) as error:
                message = getattr(error, "message", "") or str(error)
                self._record(task, results, "SyncFailed", hooks.FAILED, message)
                task.done = True
                failures.append(f"{task.label} could not be created: {message}")

        async with anyio.create_task_group() as tg:
            for task in tasks:
                tg.start_soon(one, task)
        if failures:
            raise HookFailed("; ".join(failures[:3]))
        await self.engine.report_progress()  # the hooks are Running

    async def _start_one(self, task: HookTask, results: list[ResourceResult]) -> None:
        engine = self.engine
        res, stamped = await engine._resolve(task.obj, wait=10.0)
        stamped["metadata"].setdefault("annotations", {})[FINGERPRINT] = fingerprint(stamped)
        task.resource, task.obj, task.key = res, stamped, key_of(stamped)
        live = await applier.get(engine.api, res, stamped, timeout=engine.timeout)
        if live is not None and (live.get("metadata") or {}).get("deletionTimestamp"):
            await self._wait_gone(task, live)
            live = None
        if live is not None:
            made_from = ((live.get("metadata") or {}).get("annotations") or {}).get(FINGERPRINT)
            running = not hooks.progress(live).finished
            if running and made_from == stamped["metadata"]["annotations"][FINGERPRINT]:
                task.uid, task.live = str(live["metadata"].get("uid", "")), live
                self._record(task, results, "Synced", hooks.RUNNING, "running (resumed)")
                engine.log.info("hook.resumed", hook=task.label)
                return
            if hooks.BEFORE_HOOK_CREATION in task.policies:
                await self._delete(task, live)
                await self._wait_gone(task, live)
                live = None
        written = await applier.server_side_apply(
            engine.api, res, stamped, engine._apply_options(frozenset())
        )
        task.live = written
        engine.writes += 1
        task.uid = str((written.get("metadata") or {}).get("uid", ""))
        verb = "created" if live is None else "configured"
        self._record(task, results, "Synced", hooks.RUNNING, f"{task.key[1].lower()} {verb}")
        engine.log.info("hook.started", hook=task.label, verb=verb)

    async def wait(self, tasks: Sequence[HookTask]) -> None:
        """Wait (bounded) until every hook finished; apply delete policies; fail on a failure."""
        engine = self.engine
        pending = [t for t in tasks if not t.done]
        failures: list[str] = []
        with anyio.move_on_after(engine.hook_timeout) as scope:
            while pending:
                waiting = len(pending)
                for task in list(pending):
                    assert task.resource is not None
                    live = await applier.get(
                        engine.api, task.resource, task.obj, timeout=engine.timeout
                    )
                    if live is not None and task.uid and live["metadata"].get("uid") != task.uid:
                        live = None  # replaced by someone else: ours is gone
                    task.live = live
                    if live is None:
                        self._finish(task, hooks.FAILED, "the hook was deleted before it finished")
                        failures.append(f"{task.label} was deleted before it finished")
                        pending.remove(task)
                        continue
                    state = hooks.progress(live)
                    if not state.finished:
                        continue
                    pending.remove(task)
                    self._finish(task, state.phase, state.message)
                    if state.phase == hooks.FAILED:
                        reason = state.message or "failed"
                        failures.append(f"{task.label} failed: {reason}")
                    await self._apply_delete_policy(task, live, state.phase)
                if pending and len(pending) < waiting and not failures:
                    await engine.report_progress()  # some finished, others still run
                if pending:
                    await anyio.sleep(engine.health_interval)
        if scope.cancelled_caught:
            for task in pending:
                message = f"did not finish within {engine.hook_timeout:g}s"
                self._finish(task, hooks.FAILED, message)
                failures.append(f"{task.label} {message}")
        if failures:
            raise HookFailed("; ".join(failures[:3]))

    async def _apply_delete_policy(self, task: HookTask, live: Obj, phase: str) -> None:
        wanted = hooks.HOOK_SUCCEEDED if phase == hooks.SUCCEEDED else hooks.HOOK_FAILED
        if wanted in task.policies:
            try:
                await self._delete(task, live)
            except KubeError as error:  # the sync's outcome does not depend on the cleanup
                self.engine.log.warning(
                    "hook.delete_failed", hook=task.label, policy=wanted, error=error.message
                )

    async def _delete(self, task: HookTask, live: Obj) -> None:
        assert task.resource is not None
        # Background: the hook object goes at once; a Job's Pods follow through the garbage
        # collector, so BeforeHookCreation never waits for them.
        await applier.delete(
            self.engine.api,
            task.resource,
            live,
            propagation="Background",
            timeout=self.engine.timeout,
        )
        self.engine.writes += 1
        task.live = None
        self.engine.log.info("hook.deleted", hook=task.label)

    async def _wait_gone(self, task: HookTask, live: Obj) -> None:
        """Until the object of this name with `live`'s uid no longer exists (bounded)."""
        assert task.resource is not None
        uid = (live.get("metadata") or {}).get("uid")
        with anyio.move_on_after(self.engine.hook_timeout) as scope:
            while True:
                try:
                    current = await applier.get(
                        self.engine.api, task.resource, task.obj, timeout=self.engine.timeout
                    )
                except NotFound:  # pragma: no cover - get() maps 404 to None
                    current = None
                if current is None or current["metadata"].get("uid") != uid:
                    return
                await anyio.sleep(self.engine.health_interval)
        if scope.cancelled_caught:
            raise HookFailed(
                f"the previous {task.key[1]} {task.key[3]} was still being deleted after "
                f"{self.engine.hook_timeout:g}s"
            )

    def _record(
        self,
        task: HookTask,
        results: list[ResourceResult],
        status: str,
        hook_phase: str,
        message: str,
    ) -> None:
        version = str(task.obj.get("apiVersion", "")).rpartition("/")[2]
        group, kind, namespace, name = task.key if task.key[3] else key_of(task.obj)
        if task.result is None:
            task.result = ResourceResult(
                group, version, kind, namespace, name, status, message,
                sync_phase=task.phase, wave=task.wave, hook_type=task.phase,
                hook_phase=hook_phase,
            )  # fmt: skip
            results.append(task.result)
            return
        task.result.status, task.result.hook_phase, task.result.message = (
            status,
            hook_phase,
            message,
        )

    def _finish(self, task: HookTask, phase: str, message: str) -> None:
        task.done = True
        if task.result is not None:
            task.result.hook_phase = phase
            task.result.message = message or task.result.message
