"""Resource hooks in a sync, on fleet.sim and on a real kube-apiserver (Jobs and Pods settled by
the status agents): Argo CD's documented behaviour, one behaviour a test."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from kubernetes_asyncio.client import ApiClient

from fleet.kube import request_json
from fleet.kube.watch import list_and_watch
from fleet.sync import hooks
from fleet.sync.engine import SyncEngine
from fleet.sync.retry import RetryPolicy
from tests.hooks.manifests import hook_results, image_of, job, jobs, pod, read
from tests.sync.helpers import configmap, deployment, engine

pytestmark = pytest.mark.anyio

HANG_GUARD = 60.0
Obj = dict[str, Any]


def hooked(api: ApiClient, namespace: str) -> SyncEngine:
    return engine(api, namespace, wave_timeout=HANG_GUARD)


async def deployed_v1(api: ApiClient, namespace: str) -> SyncEngine:
    """The running version: Deployment `web` at image web:1, synced and Healthy."""
    eng = hooked(api, namespace)
    op = await eng.sync([deployment("web", "web:1")], "rev-1-aaaaaaaa")
    assert op.phase == "Succeeded", op.message
    return eng


async def test_presync_job_runs_before_the_new_version_is_applied(
    api: ApiClient, namespace: str
) -> None:
    eng = await deployed_v1(api, namespace)
    op = await eng.sync([deployment("web", "web:2"), job("migrate")], "rev-2-bbbbbbbb")
    assert op.phase == "Succeeded", op.message
    order = [(r.kind, r.name) for r in op.results]
    assert order.index(("Job", "migrate")) < order.index(("Deployment", "web"))
    [result] = hook_results(op.to_dict())
    assert (result["hookType"], result["hookPhase"], result["syncPhase"]) == (
        "PreSync", "Succeeded", "PreSync",
    )  # fmt: skip
    assert image_of(await read(api, namespace, "Deployment", "web")) == "web:2"


async def test_failing_presync_job_fails_the_sync_and_keeps_the_old_version(
    api: ApiClient, namespace: str
) -> None:
    eng = await deployed_v1(api, namespace)
    op = await eng.sync(
        [deployment("web", "web:2"), job("migrate", failing=True)], "rev-2-bbbbbbbb"
    )
    assert op.phase == "Failed"
    assert "one or more synchronization tasks completed unsuccessfully" in op.message
    assert "PreSync hook Job/migrate" in op.message
    assert "backoff limit" in op.message
    assert image_of(await read(api, namespace, "Deployment", "web")) == "web:1"
    state = eng.status.to_dict()["operationState"]
    assert state["phase"] == "Failed"
    [result] = hook_results(state)
    assert (result["name"], result["hookPhase"]) == ("migrate", "Failed")
    assert "backoff limit" in result["message"]
    assert not any(r["kind"] == "Deployment" for r in state["syncResult"]["resources"])


async def test_postsync_runs_once_the_app_is_healthy(api: ApiClient, namespace: str) -> None:
    eng = hooked(api, namespace)
    op = await eng.sync([deployment("web", "web:1"), job("smoke", "PostSync")], "rev-1-aaaaaaaa")
    assert op.phase == "Succeeded", op.message
    order = [(r.kind, r.name) for r in op.results]
    assert order.index(("Deployment", "web")) < order.index(("Job", "smoke"))
    assert hook_results(op.to_dict())[0]["hookPhase"] == "Succeeded"


async def test_postsync_does_not_run_when_the_app_does_not_become_healthy(
    api: ApiClient, namespace: str
) -> None:
    eng = hooked(api, namespace)
    op = await eng.sync(
        [deployment("web", "web:1", failing=True), job("smoke", "PostSync")], "rev-1-aaaaaaaa"
    )
    assert op.phase == "Failed"
    assert await read(api, namespace, "Job", "smoke") is None


async def test_hook_succeeded_policy_deletes_the_job_after_success(
    api: ApiClient, namespace: str
) -> None:
    eng = hooked(api, namespace)
    op = await eng.sync([job("migrate", policy="HookSucceeded")], "rev-1-aaaaaaaa")
    assert op.phase == "Succeeded", op.message
    assert hook_results(op.to_dict())[0]["hookPhase"] == "Succeeded"
    assert await read(api, namespace, "Job", "migrate") is None


async def test_hook_succeeded_policy_keeps_a_failed_job(api: ApiClient, namespace: str) -> None:
    eng = hooked(api, namespace)
    op = await eng.sync([job("migrate", failing=True, policy="HookSucceeded")], "rev-1-aaaaaaaa")
    assert op.phase == "Failed"
    assert await read(api, namespace, "Job", "migrate") is not None


async def test_hook_failed_policy_deletes_a_failed_job(api: ApiClient, namespace: str) -> None:
    eng = hooked(api, namespace)
    op = await eng.sync([job("migrate", failing=True, policy="HookFailed")], "rev-1-aaaaaaaa")
    assert op.phase == "Failed"
    assert await read(api, namespace, "Job", "migrate") is None


async def test_before_hook_creation_replaces_the_previous_run(
    api: ApiClient, namespace: str
) -> None:
    eng = hooked(api, namespace)
    assert (await eng.sync([job("migrate")], "rev-1-aaaaaaaa")).phase == "Succeeded"
    first = await read(api, namespace, "Job", "migrate")
    assert first is not None
    op = await eng.sync([job("migrate", image="migrate:2")], "rev-2-bbbbbbbb")
    assert op.phase == "Succeeded", op.message
    second = await read(api, namespace, "Job", "migrate")
    assert second is not None
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    assert [j["metadata"]["name"] for j in await jobs(api, namespace)] == ["migrate"]


async def test_generate_name_hooks_get_a_name_per_sync(api: ApiClient, namespace: str) -> None:
    eng = hooked(api, namespace)
    names = []
    for revision in ("1111111aaaa", "2222222bbbb"):
        op = await eng.sync([job("migrate-", generate_name=True)], revision)
        assert op.phase == "Succeeded", op.message
        [result] = hook_results(op.to_dict())
        started = SyncEngineClock.unix(op.started_at)
        assert result["name"] == f"migrate-{revision[:7]}-presync-{started}"
        names.append(result["name"])
    live = sorted(j["metadata"]["name"] for j in await jobs(api, namespace))
    assert live == sorted(names)


class SyncEngineClock:
    @staticmethod
    def unix(stamp: str) -> int:
        from datetime import UTC, datetime

        return int(datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


async def test_hooks_of_a_phase_run_wave_by_wave(api: ApiClient, namespace: str) -> None:
    """The wave-1 hook is created only after the wave-0 hook finished (seen by a watch)."""
    seen: list[tuple[str, str, bool]] = []

    async def on_reset(items: list[Obj]) -> None:
        for item in items:
            await on_event("ADDED", item)

    async def on_event(kind: str, obj: Obj) -> None:
        done = hooks.progress(dict(obj, kind="Job", apiVersion="batch/v1")).finished
        seen.append((kind, obj["metadata"]["name"], done))

    eng = hooked(api, namespace)
    manifests = [job("second", wave=1), job("first", wave=-1)]
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: list_and_watch(
                api,
                f"/apis/batch/v1/namespaces/{namespace}/jobs",
                on_reset=on_reset,
                on_event=on_event,
            )
        )
        op = await eng.sync(manifests, "rev-1-aaaaaaaa")
        tg.cancel_scope.cancel()
    assert op.phase == "Succeeded", op.message
    first_done = next(i for i, (_, name, done) in enumerate(seen) if name == "first" and done)
    second_seen = next(i for i, (_, name, _) in enumerate(seen) if name == "second")
    assert first_done < second_seen, seen


async def test_sync_hooks_run_with_their_wave_of_resources(api: ApiClient, namespace: str) -> None:
    eng = hooked(api, namespace)
    manifests = [
        configmap("early", **{"argocd.argoproj.io__sync-wave": "0"}),
        job("between", "Sync", wave=1),
        configmap("late", **{"argocd.argoproj.io__sync-wave": "2"}),
    ]
    op = await eng.sync(manifests, "rev-1-aaaaaaaa")
    assert op.phase == "Succeeded", op.message
    assert [r.name for r in op.results] == ["early", "between", "late"]


async def test_skip_manifest_is_never_applied(api: ApiClient, namespace: str) -> None:
    eng = hooked(api, namespace)
    skipped = configmap("manual", **{"argocd.argoproj.io__hook": "Skip"})
    op = await eng.sync([configmap("cfg"), skipped], "rev-1-aaaaaaaa")
    assert op.phase == "Succeeded", op.message
    assert await read(api, namespace, "ConfigMap", "manual") is None
    assert (await eng.compare([configmap("cfg"), skipped])).in_sync


async def test_sync_fail_hook_runs_when_a_presync_hook_fails(
    api: ApiClient, namespace: str
) -> None:
    eng = await deployed_v1(api, namespace)
    manifests = [
        deployment("web", "web:2"),
        job("migrate", failing=True),
        job("rollback-notice", "SyncFail"),
        job("smoke", "PostSync"),
    ]
    op = await eng.sync(manifests, "rev-2-bbbbbbbb")
    assert op.phase == "Failed"
    phases = {r["name"]: r["hookPhase"] for r in hook_results(op.to_dict())}
    assert phases == {"migrate": "Failed", "rollback-notice": "Succeeded"}
    assert await read(api, namespace, "Job", "smoke") is None
    assert image_of(await read(api, namespace, "Deployment", "web")) == "web:1"


async def test_sync_fail_hooks_do_not_run_when_the_sync_succeeds(
    api: ApiClient, namespace: str
) -> None:
    eng = hooked(api, namespace)
    op = await eng.sync([configmap("cfg"), job("rollback-notice", "SyncFail")], "rev-1-aaaaaaaa")
    assert op.phase == "Succeeded", op.message
    assert await read(api, namespace, "Job", "rollback-notice") is None


async def test_hooks_leave_the_app_in_sync_and_are_not_pruned(
    api: ApiClient, namespace: str
) -> None:
    eng = hooked(api, namespace)
    manifests = [configmap("cfg"), job("migrate")]
    assert (await eng.sync(manifests, "rev-1-aaaaaaaa")).phase == "Succeeded"
    comparison = await eng.compare(manifests)
    assert comparison.in_sync
    [state] = [s for s in eng.status.to_dict()["resources"] if s["kind"] == "Job"]
    assert state["hook"] is True
    assert eng.status.sync_status == "Synced"
    # Pruning (the hook is not in the render at all now) leaves it alone too.
    assert (await eng.sync([configmap("cfg")], "rev-2-bbbbbbbb")).phase == "Succeeded"
    assert await read(api, namespace, "Job", "migrate") is not None


async def test_deleting_the_app_removes_its_hooks(api: ApiClient, namespace: str) -> None:
    eng = hooked(api, namespace)
    assert (await eng.sync([configmap("cfg"), job("migrate")], "rev-1")).phase == "Succeeded"
    op = await eng.sync([], "", prune_enabled=True, allow_empty=True, remove_hooks=True)
    assert op.phase == "Succeeded", op.message
    assert await read(api, namespace, "Job", "migrate") is None


async def test_pod_hooks_complete_and_fail_on_every_backend(api: ApiClient, namespace: str) -> None:
    eng = hooked(api, namespace)
    op = await eng.sync([pod("check")], "rev-1-aaaaaaaa")
    assert op.phase == "Succeeded", op.message
    live = await read(api, namespace, "Pod", "check")
    assert live is not None and live["status"]["phase"] == "Succeeded"
    op = await eng.sync([pod("check-fails", failing=True)], "rev-2-bbbbbbbb")
    assert op.phase == "Failed"
    assert "PreSync hook Pod/check-fails" in op.message


async def test_a_running_hook_from_an_interrupted_sync_is_resumed_not_recreated(
    api: ApiClient, namespace: str
) -> None:
    """A controller restarted mid-sync re-runs it: the migration Job still running (made from
    the same manifest) is waited for, not deleted and created again."""
    manifests = [deployment("web", "web:2"), job("migrate", suspend=True)]
    first = hooked(api, namespace)
    with anyio.move_on_after(HANG_GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first.sync, manifests, "rev-2-bbbbbbbb")
            while await read(api, namespace, "Job", "migrate") is None:
                await anyio.sleep(0.05)
            tg.cancel_scope.cancel()  # the controller dies while the Job runs
    started = await read(api, namespace, "Job", "migrate")
    assert started is not None

    second = hooked(api, namespace)  # a new process: nothing in memory
    async with anyio.create_task_group() as tg:
        tg.start_soon(second.sync, manifests, "rev-2-bbbbbbbb")
        with anyio.fail_after(HANG_GUARD):
            while not any(
                r.hook_phase == "Running" and "resumed" in r.message
                for r in (second.status.operation.results if second.status.operation else [])
            ):
                await anyio.sleep(0.05)
        await request_json(  # the Job's pods finish
            api,
            "PATCH",
            f"/apis/batch/v1/namespaces/{namespace}/jobs/migrate",
            body={"spec": {"suspend": False}},
            content_type="application/merge-patch+json",
        )
    op = second.status.operation
    assert op is not None and op.phase == "Succeeded", op and op.message
    resumed = await read(api, namespace, "Job", "migrate")
    assert resumed is not None and resumed["metadata"]["uid"] == started["metadata"]["uid"]
    assert image_of(await read(api, namespace, "Deployment", "web")) == "web:2"


async def test_a_hook_that_never_finishes_fails_the_sync_after_the_hook_timeout(
    api: ApiClient, namespace: str
) -> None:
    eng = hooked(api, namespace)
    eng.hook_timeout = 1.0
    op = await eng.sync([configmap("cfg"), job("migrate", suspend=True)], "rev-1-aaaaaaaa")
    assert op.phase == "Failed"
    assert "PreSync hook Job/migrate" in op.message and "did not finish within 1s" in op.message
    assert await read(api, namespace, "ConfigMap", "cfg") is None


async def test_stopping_a_sync_that_waits_to_retry_ends_it_at_once(
    api: ApiClient, namespace: str
) -> None:
    """Deleting an Application whose sync backs off for an hour must not wait that hour."""
    hour = RetryPolicy(limit=5, duration=3600.0, max_duration=3600.0)
    eng = engine(api, namespace, retry=hour, wave_timeout=HANG_GUARD)
    result: list[Any] = []

    async def run() -> None:
        result.append(await eng.sync([job("migrate", failing=True)], "rev-1-aaaaaaaa"))

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        with anyio.fail_after(HANG_GUARD):  # hang guard: the hook fails within seconds
            while eng.status.operation is None or "retrying" not in eng.status.operation.message:
                await anyio.sleep(0.05)
        eng.stop_retrying("the Application is being deleted")
    [op] = result
    assert op.phase == "Failed"
    assert op.retry_count == 1
    assert op.message.endswith("(retries stopped: the Application is being deleted)")
    assert "PreSync hook Job/migrate" in op.message
