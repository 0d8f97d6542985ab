"""The sync engine against a cluster: fleet.sim and a real kube-apiserver (each test twice)."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import time

import anyio
import pytest
from kubernetes_asyncio import client

from fleet.kube import Credentials, build_api_client, request_json
from fleet.kube.adaptive import AdaptiveLimit, AdaptiveSettings
from fleet.kube.client import FleetApiClient
from fleet.sync import pool
from fleet.sync.ignore import IgnoreRule
from fleet.sync.retry import RetryPolicy
from fleet.sync.selfheal import SelfHealer
from fleet.sync.tracking import ANNOTATION, LABEL
from fleet.sync.watchhub import StreamEnded, WatchHub
from tests.contract.backends import Backend
from tests.sync.conftest import count_requests
from tests.sync.helpers import (
    configmap,
    delete_and_await_recreation,
    deployment,
    engine,
    get_cm,
    gone,
    manual_edit,
    rv,
    with_annotations,
)

pytestmark = pytest.mark.anyio


async def test_first_sync_creates_everything(api: client.ApiClient, namespace: str) -> None:
    eng = engine(api, namespace)
    op = await eng.sync([configmap("a"), configmap("b"), deployment("web")], "rev1")
    assert op.phase == "Succeeded", op.message
    for name in ("a", "b"):
        live = await get_cm(api, namespace, name)
        assert live is not None
        assert live["metadata"]["labels"][LABEL] == eng.spec.app.label_value
        assert live["metadata"]["annotations"][ANNOTATION] == (
            f"argocd/{eng.spec.app.name}:/ConfigMap:{namespace}/{name}"
        )
    status = eng.status.to_dict()
    assert status["sync"] == {"status": "Synced", "revision": "rev1"}
    assert status["health"]["status"] == "Healthy"
    assert {r["name"] for r in status["resources"]} == {"a", "b", "web"}
    assert len(status["operationState"]["syncResult"]["resources"]) == 3
    assert status["history"][-1]["revision"] == "rev1"


async def test_git_change_updates_only_changed_objects(
    api: client.ApiClient, namespace: str
) -> None:
    eng = engine(api, namespace)
    await eng.sync([configmap("a"), configmap("b")], "rev1")
    before_a, before_b = await get_cm(api, namespace, "a"), await get_cm(api, namespace, "b")
    requests = count_requests(api)
    op = await eng.sync([configmap("a"), configmap("b", {"key": "changed"})], "rev2")
    assert op.phase == "Succeeded"
    assert rv(await get_cm(api, namespace, "a")) == rv(before_a)
    after_b = await get_cm(api, namespace, "b")
    assert (
        after_b is not None and after_b["data"] == {"key": "changed"} and rv(after_b) > rv(before_b)
    )
    assert len(requests.writes) == 1
    assert [r.name for r in op.results] == ["b"]


async def test_removed_manifest_is_pruned(api: client.ApiClient, namespace: str) -> None:
    eng = engine(api, namespace)
    await eng.sync([configmap("a"), configmap("gone")], "rev1")
    op = await eng.sync([configmap("a")], "rev2")
    assert op.phase == "Succeeded"
    assert await gone(api, namespace, "gone")
    assert [(r.name, r.status) for r in op.results] == [("gone", "Pruned")]
    assert {r["name"] for r in eng.status.to_dict()["resources"]} == {"a"}


async def test_prune_false_object_survives(api: client.ApiClient, namespace: str) -> None:
    eng = engine(api, namespace)
    keep = with_annotations(configmap("keep"), {"argocd.argoproj.io/sync-options": "Prune=false"})
    await eng.sync([configmap("a"), keep], "rev1")
    op = await eng.sync([configmap("a")], "rev2")
    assert await get_cm(api, namespace, "keep") is not None
    assert [(r.name, r.status) for r in op.results] == [("keep", "PruneSkipped")]


async def test_object_without_matching_tracking_annotation_is_never_pruned(
    api: client.ApiClient, namespace: str
) -> None:
    eng = engine(api, namespace)
    await eng.sync([configmap("a")], "rev1")
    foreign = configmap("foreign")
    foreign["metadata"]["labels"] = {LABEL: eng.spec.app.label_value}  # label copied, no id
    await request_json(api, "POST", f"/api/v1/namespaces/{namespace}/configmaps", body=foreign)
    await eng.sync([configmap("a")], "rev2")
    assert await get_cm(api, namespace, "foreign") is not None


async def test_empty_render_does_not_prune(api: client.ApiClient, namespace: str) -> None:
    eng = engine(api, namespace)
    await eng.sync([configmap("a")], "rev1")
    await eng.sync([], "rev2")
    assert await get_cm(api, namespace, "a") is not None
    assert eng.status.conditions[0]["type"] == "SyncError"


async def test_empty_render_prunes_with_allow_empty(api: client.ApiClient, namespace: str) -> None:
    eng = engine(api, namespace)
    await eng.sync([configmap("a")], "rev1")
    await eng.sync([], "rev2", allow_empty=True)
    assert await gone(api, namespace, "a")


async def test_waves_apply_in_order(api: client.ApiClient, namespace: str) -> None:
    eng = engine(api, namespace)
    wave = "argocd.argoproj.io/sync-wave"
    manifests = [
        with_annotations(configmap("late"), {wave: "5"}),
        with_annotations(configmap("early"), {wave: "-1"}),
        deployment("middle"),
    ]
    op = await eng.sync(manifests, "rev1")
    assert op.phase == "Succeeded", op.message
    early, late = await get_cm(api, namespace, "early"), await get_cm(api, namespace, "late")
    mid = await request_json(api, "GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/middle")
    assert rv(early) < int(mid["metadata"]["resourceVersion"]) < rv(late)
    assert [r.name for r in op.results] == ["early", "middle", "late"]


async def test_no_writes_when_nothing_changed(api: client.ApiClient, namespace: str) -> None:
    eng = engine(api, namespace)
    manifests = [configmap("a"), configmap("b"), deployment("web")]
    await eng.sync(manifests, "rev1")
    before = await get_cm(api, namespace, "a")
    requests = count_requests(api)
    writes = eng.writes
    op = await eng.sync(manifests, "rev1")
    assert op.phase == "Succeeded"
    assert requests.writes == [] and eng.writes == writes
    assert rv(await get_cm(api, namespace, "a")) == rv(before)


async def test_manual_edit_is_reverted_with_self_heal(
    api: client.ApiClient, namespace: str
) -> None:
    eng = engine(api, namespace, self_heal=True)
    await eng.sync([configmap("a")], "rev1")
    healer = SelfHealer(eng)
    async with anyio.create_task_group() as tg:
        await tg.start(healer.run)
        await manual_edit(api, namespace, "a", "edited")
        with anyio.fail_after(10):
            while (await get_cm(api, namespace, "a") or {}).get("data") != {"key": "a"}:
                await anyio.sleep(0.05)
        tg.cancel_scope.cancel()
    assert healer.corrections >= 1
    assert eng.status.sync_status == "Synced"


async def test_manual_edit_is_only_reported_without_self_heal(
    api: client.ApiClient, namespace: str
) -> None:
    eng = engine(api, namespace, self_heal=False)
    await eng.sync([configmap("a")], "rev1")
    healer = SelfHealer(eng)
    async with anyio.create_task_group() as tg:
        await tg.start(healer.run)
        requests = count_requests(api)
        await manual_edit(api, namespace, "a", "edited")
        edits = len(requests.writes)
        with anyio.fail_after(10):
            while eng.status.sync_status != "OutOfSync":
                await anyio.sleep(0.05)
        await anyio.sleep(0.3)
        tg.cancel_scope.cancel()
    assert len(requests.writes) == edits == 1  # only the manual edit itself
    assert (await get_cm(api, namespace, "a") or {})["data"] == {"key": "edited"}
    state = next(r for r in eng.status.to_dict()["resources"] if r["name"] == "a")
    assert state["status"] == "OutOfSync"


async def test_failing_deployment_is_degraded_and_retried(
    api: client.ApiClient, namespace: str
) -> None:
    retry = RetryPolicy(limit=2, duration=0.2, factor=2.0, max_duration=1.0)
    eng = engine(api, namespace, retry=retry)
    started = time.monotonic()
    op = await eng.sync([configmap("a"), deployment("bad", failing=True)], "rev1")
    elapsed = time.monotonic() - started
    assert op.phase == "Failed"
    assert op.retry_count == 2
    assert "Degraded" in op.message
    assert eng.status.health == "Degraded"
    assert elapsed >= 0.2 + 0.4  # both backoffs were waited
    assert eng.status.history == []  # Argo CD's history holds what was deployed, not attempts


async def test_ignore_differences_hide_drift(api: client.ApiClient, namespace: str) -> None:
    rule = IgnoreRule(kind="ConfigMap", json_pointers=("/data/key",))
    eng = engine(api, namespace, ignore=(rule,))
    await eng.sync([configmap("a")], "rev1")
    await manual_edit(api, namespace, "a", "edited")
    comparison = await eng.compare([configmap("a")])
    assert comparison.in_sync


async def test_sync_compare_and_heal_never_change_the_manifests_they_were_given(
    api: client.ApiClient, namespace: str
) -> None:
    # Stamped objects share their bodies with the manifests (the render cache's, shared by
    # every Application of a source): a change in place would reach every other Application.
    replaced = with_annotations(configmap("b"), {"argocd.argoproj.io/sync-options": "Replace=true"})
    manifests = [configmap("a"), replaced, deployment("web")]
    given = copy.deepcopy(manifests)
    rule = IgnoreRule(kind="ConfigMap", json_pointers=("/data/key",))
    eng = engine(api, namespace, self_heal=True, ignore=(rule,))
    await eng.sync(manifests, "rev1")
    await manual_edit(api, namespace, "a", "edited")
    await manual_edit(api, namespace, "b", "edited")
    await eng.sync(manifests, "rev2")
    async with anyio.create_task_group() as tg:
        await tg.start(SelfHealer(eng).run)
        await delete_and_await_recreation(api, namespace, "a")
        tg.cancel_scope.cancel()
    await eng.compare(manifests)
    assert manifests == given


async def test_a_released_engine_heals_with_the_same_stamped_object(
    api: client.ApiClient, namespace: str
) -> None:
    # The engine drops its stamped objects between uses and rebuilds them from the manifests:
    # a heal must re-create the object in the destination namespace with fleet's marks.
    eng = engine(api, namespace, self_heal=True)
    await eng.sync([configmap("a"), deployment("web")], "rev1")
    stamped = {key: copy.deepcopy(plan.obj) for key, plan in eng.desired.items()}
    eng.release_stamped()
    assert not any(plan.holds_stamped for plan in eng.desired.values())
    async with anyio.create_task_group() as tg:
        await tg.start(SelfHealer(eng).run)
        await delete_and_await_recreation(api, namespace, "a")
        tg.cancel_scope.cancel()
    live = await get_cm(api, namespace, "a")
    assert live is not None
    assert live["metadata"]["labels"][LABEL] == eng.spec.app.label_value
    assert live["metadata"]["annotations"][ANNOTATION] == (
        f"argocd/{eng.spec.app.name}:/ConfigMap:{namespace}/a"
    )
    assert {key: plan.obj for key, plan in eng.desired.items()} == stamped


async def test_restarted_engine_resync_makes_no_writes(
    api: client.ApiClient, namespace: str
) -> None:
    manifests = [configmap("a"), deployment("web")]
    first = engine(api, namespace)
    await first.sync(manifests, "rev1")
    restarted = engine(api, namespace)  # no verified cache: every object is dry-run compared
    restarted.status = first.status
    requests = count_requests(api)
    op = await restarted.sync(manifests, "rev1")
    assert op.phase == "Succeeded", op.message
    assert requests.writes == []
    assert any("dryRun=All" in url for _, url in requests.seen)


async def test_custom_resource_is_applied_after_its_crd(
    api: client.ApiClient, namespace: str
) -> None:
    group = f"{namespace}.example.com"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
            }}],
        },
    }  # fmt: skip
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w"},
              "spec": {"size": 3}}  # fmt: skip
    eng = engine(api, namespace)
    op = await eng.sync([widget, crd], "rev1")
    try:
        assert op.phase == "Succeeded", op.message
        assert [r.kind for r in op.results] == ["CustomResourceDefinition", "Widget"]
        live = await request_json(api, "GET", f"/apis/{group}/v1/namespaces/{namespace}/widgets/w")
        assert live["spec"] == {"size": 3}
    finally:
        await request_json(
            api,
            "DELETE",
            f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{group}",
        )


async def test_replace_option_writes_with_put(api: client.ApiClient, namespace: str) -> None:
    eng = engine(api, namespace, sync_options=("CreateNamespace=true", "Replace=true"))
    await eng.sync([configmap("a")], "rev1")
    requests = count_requests(api)
    op = await eng.sync([configmap("a", {"key": "new"})], "rev2")
    assert op.phase == "Succeeded", op.message
    assert [m for m, _ in requests.writes] == ["PUT"]
    assert (await get_cm(api, namespace, "a") or {})["data"] == {"key": "new"}


async def test_deleted_object_is_recreated_with_self_heal(
    api: client.ApiClient, namespace: str
) -> None:
    eng = engine(api, namespace, self_heal=True)
    await eng.sync([configmap("a")], "rev1")
    async with anyio.create_task_group() as tg:
        await tg.start(SelfHealer(eng).run)
        await delete_and_await_recreation(api, namespace, "a")
        tg.cancel_scope.cancel()


async def test_a_healer_on_shared_watches_heals_and_ends_with_its_stream(
    api: client.ApiClient, namespace: str
) -> None:
    eng = engine(api, namespace, self_heal=True)
    await eng.sync([configmap("a")], "rev1")
    async with anyio.create_task_group() as tg:
        hub = WatchHub()
        await tg.start(hub.run)
        ended: list[BaseException] = []

        async def heal() -> None:
            try:
                await SelfHealer(eng, watches=hub).run()
            except StreamEnded as error:
                ended.append(error)

        tg.start_soon(heal)
        with anyio.fail_after(10):
            while hub.streams == 0:
                await anyio.sleep(0.05)
        await delete_and_await_recreation(api, namespace, "a")
        hub.drop(api)  # its cluster client retired: the healer ends, to be started again
        with anyio.fail_after(10):
            while not ended:
                await anyio.sleep(0.05)
        assert "its cluster client was retired" in str(ended[0])
        tg.cancel_scope.cancel()


async def test_a_healer_attached_to_shared_watches_holds_no_task_until_something_drifts(
    api: client.ApiClient, namespace: str
) -> None:
    eng = engine(api, namespace, self_heal=True)
    await eng.sync([configmap("a")], "rev1")
    ended: list[StreamEnded] = []
    async with anyio.create_task_group() as tg:
        hub = WatchHub()
        await tg.start(hub.run)
        await hub.prime(api, [p.resource for p in eng.desired.values() if p.resource])
        idle = len(asyncio.all_tasks())
        await SelfHealer(eng, watches=hub).attach(tg, ended.append)
        await anyio.sleep(0.2)  # its snapshot handed over, its echoes skipped
        assert len(asyncio.all_tasks()) == idle
        await delete_and_await_recreation(api, namespace, "a")
        tg.cancel_scope.cancel()
    assert ended == []


async def test_extraneous_object_with_ignore_extraneous_keeps_app_synced(
    api: client.ApiClient, namespace: str
) -> None:
    eng = engine(api, namespace, prune=False)
    extra = with_annotations(
        configmap("extra"), {"argocd.argoproj.io/compare-options": "IgnoreExtraneous"}
    )
    await eng.sync([configmap("a"), extra], "rev1")
    comparison = await eng.compare([configmap("a")])
    assert list(comparison.extraneous) == [("", "ConfigMap", namespace, "extra")]
    assert comparison.in_sync
    assert eng.status.sync_status == "Synced"


async def test_status_only_updates_of_a_workload_cost_the_self_healer_no_dry_run(
    api: client.ApiClient, namespace: str
) -> None:
    eng = engine(api, namespace, self_heal=True)
    op = await eng.sync([deployment("web")], "rev1")  # waits until the rollout is Healthy
    assert op.phase == "Succeeded"
    healer = SelfHealer(eng)
    seen = count_requests(api)
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/web/status"
    async with anyio.create_task_group() as tg:
        await tg.start(healer.run)
        seen.seen.clear()
        await request_json(
            api,
            "PATCH",
            path,
            body={"status": {"observedGeneration": 1, "conditions": []}},
            content_type="application/merge-patch+json",
        )
        await anyio.sleep(1.0)  # time for the watch event and any check it would cause
        tg.cancel_scope.cancel()
    dry_runs = [url for method, url in seen.seen if method == "PATCH" and "dryRun" in url]
    assert dry_runs == []
    assert healer.corrections == 0


async def test_a_compare_served_by_a_watch_cache_sends_no_list(
    api: client.ApiClient, namespace: str
) -> None:
    eng = engine(api, namespace)
    await eng.sync([configmap("a"), configmap("b")], "rev1")
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    listed = await request_json(api, "GET", path, query={"labelSelector": LABEL})
    eng.live_cache = lambda res: list(listed["items"]) if res.kind == "ConfigMap" else None
    seen = count_requests(api)
    comparison = await eng.compare([configmap("a"), configmap("b")])
    assert comparison.in_sync
    assert not [url for method, url in seen.seen if method == "GET" and "labelSelector" in url]


async def test_a_compare_of_objects_unchanged_since_verified_sends_nothing_and_starts_no_worker(
    api: client.ApiClient, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A steady Application's resync: every object is settled from the watch cache and what
    fleet last verified, in the compare's own task (no dry run, no worker to spawn)."""
    eng = engine(api, namespace)
    manifests = [configmap("c"), configmap("a"), configmap("b")]
    await eng.sync(manifests, "rev1")
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    listed = await request_json(api, "GET", path, query={"labelSelector": LABEL})
    eng.live_cache = lambda res: list(listed["items"]) if res.kind == "ConfigMap" else None
    handed_to_workers: list[object] = []
    each = pool.each

    async def recording_each(items, work, workers):  # type: ignore[no-untyped-def]
        items = list(items)
        handed_to_workers.extend(items)
        await each(items, work, workers)

    monkeypatch.setattr(pool, "each", recording_each)
    seen = count_requests(api)
    comparison = await eng.compare(manifests)
    assert comparison.in_sync
    assert [key[3] for key in comparison.plans] == ["c", "a", "b"]
    assert seen.seen == []
    assert handed_to_workers == []


async def test_the_history_keeps_the_applications_revision_history_limit(
    api: client.ApiClient, namespace: str
) -> None:
    eng = engine(api, namespace)
    eng.spec = dataclasses.replace(eng.spec, history_limit=2)
    for revision in ("rev1", "rev2", "rev3"):
        assert (await eng.sync([configmap("a")], revision)).phase == "Succeeded"
    assert [h["revision"] for h in eng.status.history] == ["rev2", "rev3"]
    assert [h["id"] for h in eng.status.history] == [1, 2]


async def test_the_summary_after_a_sync_holds_what_it_applied_and_not_what_it_pruned(
    api: client.ApiClient, namespace: str
) -> None:
    eng = engine(api, namespace)
    assert (await eng.sync([deployment("web"), deployment("old", "old:1")], "rev1")).phase == (
        "Succeeded"
    )
    assert eng.status.summary == {"images": ["nginx:1.27", "old:1"]}  # created by this sync
    op = await eng.sync([deployment("web", "nginx:1.28")], "rev2")
    assert op.phase == "Succeeded", op.message
    assert eng.status.summary == {"images": ["nginx:1.28"]}  # updated, and "old" pruned


async def test_a_sync_keeps_at_most_one_apply_waiting_for_a_slot_toward_the_cluster(
    backend: Backend, namespace: str
) -> None:
    """Applies beyond the cluster's free slots would only wait: the engine runs as many as the
    adaptive limit has slots, plus one whose wait shows the limit there is demand for more."""
    creds = Credentials(
        server=backend.server, token=backend.token, ca_pem=backend.ca_file.read_bytes()
    )
    async with build_api_client(creds) as api:
        assert isinstance(api, FleetApiClient)
        limit = api.rest_client.limit = AdaptiveLimit(AdaptiveSettings(initial=2, maximum=2))
        most_waiting = 0
        acquire = limit.acquire

        async def watched_acquire(*, timeout: float | None = None) -> float:
            nonlocal most_waiting
            most_waiting = max(most_waiting, limit.waiting + (limit.inflight >= limit.limit))
            return await acquire(timeout=timeout)

        limit.acquire = watched_acquire  # type: ignore[method-assign]
        op = await engine(api, namespace).sync([configmap(f"cm-{i}") for i in range(9)], "rev1")
    assert op.phase == "Succeeded", op.message
    assert len(op.results) == 9
    assert most_waiting == 1
