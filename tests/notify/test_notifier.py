"""Notifications through the running controller on fleet.sim: subscriptions by annotation,
each trigger sent once per state change (also across a restart), a hanging receiver never
slowing a sync, bad conditions and templates reported on the Application."""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import anyio
import pytest

from fleet.api.resources import API_VERSION, APPLICATION, PROJECT
from fleet.controllers.sharding import ShardSettings
from fleet.kube import request_json
from fleet.notify.delivery import RetryPolicy
from fleet.notify.runner import Notifier, NotifySettings, keep_running
from fleet.notify.subscriptions import NOTIFIED
from tests.controllers.harness import Scenario, configmap, synced_and_healthy
from tests.notify.receiver import Receiver

pytestmark = pytest.mark.anyio

SUBSCRIBE = "notifications.argoproj.io/subscribe."
FAST = NotifySettings(retry=RetryPolicy(attempts=3, backoff=0.05, max_backoff=0.2))


def hook_template(path: str) -> str:
    return (
        "webhook:\n  hook:\n    method: POST\n"
        f"    path: /{path}/{{{{.app.metadata.name}}}}\n"
        '    body: \'{"revision": "{{.app.status.sync.revision}}", '
        '"phase": "{{.app.status.operationState.phase}}", '
        '"repo": "{{.app.spec.source.repoURL}}"}\'\n'
    )


async def put_config(scenario: Scenario, sink: Receiver, **extra: str) -> None:
    data = {
        "service.webhook.hook": f"url: {sink.url}\nbasicAuth:\n  username: fleet\n  password: $pw",
        "template.app-sync-succeeded": hook_template("sync-succeeded"),
        "template.app-created": hook_template("created"),
        **extra,
    }
    ns = scenario.namespace
    await request_json(
        scenario.hub,
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        body={"metadata": {"name": "argocd-notifications-cm"}, "data": data},
    )
    await request_json(
        scenario.hub,
        "POST",
        f"/api/v1/namespaces/{ns}/secrets",
        body={"metadata": {"name": "argocd-notifications-secret"}, "stringData": {"pw": "pw1"}},
    )


async def create_app(scenario: Scenario, name: str, annotations: Mapping[str, str]) -> None:
    member = scenario.member(0)
    doc = {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": scenario.namespace,
            "annotations": dict(annotations),
        },
        "spec": {
            "project": "default",
            "source": {"repoURL": scenario.repo_url, "path": "apps/api"},
            "destination": {"name": member.name, "namespace": scenario.app_namespace},
            "syncPolicy": {"automated": {}, "syncOptions": ["CreateNamespace=true"]},
        },
    }
    await request_json(scenario.hub, "POST", APPLICATION.collection(scenario.namespace), body=doc)


async def annotate(scenario: Scenario, name: str, annotations: Mapping[str, str]) -> None:
    await request_json(
        scenario.hub,
        "PATCH",
        APPLICATION.item(scenario.namespace, name),
        body={"metadata": {"annotations": dict(annotations)}},
        content_type="application/merge-patch+json",
    )


async def wait_notified(scenario: Scenario, name: str, part: str) -> dict[str, Any]:
    """Until the Application's sent-state holds a key containing `part` (a hang guard)."""
    state: dict[str, Any] = {}
    with anyio.fail_after(60):
        while True:
            app = await request_json(
                scenario.hub, "GET", APPLICATION.item(scenario.namespace, name)
            )
            raw = (app["metadata"].get("annotations") or {}).get(NOTIFIED)
            state = json.loads(raw) if raw else {}
            if any(part in key for key in state):
                return state
            await anyio.sleep(0.2)


async def wait_event(scenario: Scenario, name: str, text: str) -> dict[str, Any]:
    with anyio.fail_after(60):
        while True:
            listing = await request_json(
                scenario.hub, "GET", f"/api/v1/namespaces/{scenario.namespace}/events"
            )
            for event in listing.get("items") or []:
                if (event.get("involvedObject") or {}).get("name") == name and text in str(
                    event.get("message")
                ):
                    return dict(event)
            await anyio.sleep(0.2)


async def register(scenario: Scenario, sink: Receiver, **extra: str) -> None:
    await scenario.register(scenario.member(0))
    await put_config(scenario, sink, **extra)


async def test_a_successful_sync_sends_one_on_sync_succeeded_with_the_apps_fields(
    scenario: Scenario, sink: Receiver
) -> None:
    await register(scenario, sink)
    async with scenario.controller(notifications=FAST) as controller:
        await create_app(scenario, "api", {SUBSCRIBE + "on-sync-succeeded.hook": ""})
        await sink.wait_for(1, "/sync-succeeded/api")
        apps = await scenario.wait_apps(lambda a: synced_and_healthy(a.get("api", {})))
        await wait_notified(scenario, "api", "on-sync-succeeded")
        # More reconciles and notifier passes; on-created, subscribed last, is the barrier.
        await annotate(scenario, "api", {"example.com/touch": "1"})
        await annotate(scenario, "api", {SUBSCRIBE + "on-created.hook": ""})
        await sink.wait_for(1, "/created/api")
        metrics = controller.metrics.render().decode()
    (request,) = sink.on("/sync-succeeded/api")
    assert (
        'fleet_notifications_total{result="sent",service="hook",trigger="on-sync-succeeded"} 1.0'
        in metrics
    )
    assert request.json() == {
        "revision": apps["api"]["status"]["sync"]["revision"],
        "phase": "Succeeded",
        "repo": scenario.repo_url,
    }
    assert request.headers["Authorization"].startswith("Basic ")


async def test_a_restart_does_not_resend_what_the_annotation_records(
    sim_scenario: Scenario, sink: Receiver
) -> None:
    scenario = sim_scenario
    await register(scenario, sink)
    async with scenario.controller(notifications=FAST):
        await create_app(scenario, "api", {SUBSCRIBE + "on-sync-succeeded.hook": ""})
        await sink.wait_for(1, "/sync-succeeded/api")
        await wait_notified(scenario, "api", "on-sync-succeeded")
    async with scenario.controller(notifications=FAST):
        await annotate(scenario, "api", {SUBSCRIBE + "on-created.hook": ""})
        await sink.wait_for(1, "/created/api")
    assert len(sink.on("/sync-succeeded/api")) == 1


async def test_a_hanging_receiver_does_not_slow_the_sync(
    sim_scenario: Scenario, sink: Receiver
) -> None:
    scenario = sim_scenario
    await register(scenario, sink)
    sink.hold = True
    settings = NotifySettings(request_timeout=300, retry=FAST.retry)
    async with scenario.controller(notifications=settings):
        await create_app(scenario, "api", {SUBSCRIBE + "on-created.hook": ""})
        await sink.wait_for(1, "/created/api")
        await scenario.wait_apps(lambda a: synced_and_healthy(a.get("api", {})))
        assert sink.holding == 1  # the notification is still waiting on the receiver


async def test_a_bad_condition_is_reported_on_the_application_naming_the_trigger(
    sim_scenario: Scenario, sink: Receiver
) -> None:
    scenario = sim_scenario
    await register(
        scenario, sink, **{"trigger.on-bad": "- when: app.status.sync ==\n  send: [app-created]"}
    )
    async with scenario.controller(notifications=FAST):
        await create_app(scenario, "api", {SUBSCRIBE + "on-bad.hook": ""})
        event = await wait_event(scenario, "api", "trigger.on-bad[0].when")
    assert event["reason"] == "NotificationFailed" and event["type"] == "Warning"


async def test_a_bad_template_is_reported_on_the_application_naming_the_template(
    sim_scenario: Scenario, sink: Receiver
) -> None:
    scenario = sim_scenario
    await register(
        scenario,
        sink,
        **{"template.app-created": "message: '{{ fail \"no owner label\" }}'"},
    )
    async with scenario.controller(notifications=FAST):
        await create_app(scenario, "api", {SUBSCRIBE + "on-created.hook": ""})
        event = await wait_event(scenario, "api", "template.app-created.message")
    assert "no owner label" in event["message"]
    assert sink.requests == []


async def test_the_notifier_on_its_own_watches_applications_itself(
    sim_scenario: Scenario, sink: Receiver
) -> None:
    """Without the Application controller's cache (`source`), as in a standalone notifier."""
    scenario = sim_scenario
    await put_config(scenario, sink)
    await create_app(scenario, "api", {SUBSCRIBE + "on-created.hook": ""})
    notifier = Notifier(scenario.hub, scenario.namespace, settings=FAST)
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(60):
            await tg.start(notifier.run)
        await sink.wait_for(1, "/created/api")
        await wait_notified(scenario, "api", "on-created")
        tg.cancel_scope.cancel()
    assert len(sink.requests) == 1


async def test_two_sharded_replicas_send_each_notification_once(
    sim_scenario: Scenario, sink: Receiver
) -> None:
    """Only the leader (the holder of shard 0, running the ApplicationSet controller) sends."""
    scenario = sim_scenario
    await register(scenario, sink)
    controllers = []
    async with AsyncExitStack() as stack:
        for name in ("r-a", "r-b"):
            sharding = ShardSettings(identity=name, shards=2, lease_duration=15, renew_interval=5)
            controllers.append(
                await stack.enter_async_context(
                    scenario.controller(
                        notifications=FAST,
                        sharding=sharding,
                        cache_dir=scenario.workdir / f"cache-{name}",
                    )
                )
            )
        for app in ("one", "two", "three"):
            await create_app(scenario, app, {SUBSCRIBE + "on-created.hook": ""})
        for app in ("one", "two", "three"):
            await wait_notified(scenario, app, "on-created")
        await create_app(scenario, "last", {SUBSCRIBE + "on-created.hook": ""})
        await sink.wait_for(1, "/created/last")
        senders = [c for c in controllers if c.notifier is not None]
    assert len(senders) == 1
    assert sorted(r.path for r in sink.requests) == sorted(
        f"/created/{a}" for a in ("one", "two", "three", "last")
    )


async def edit_api_config(scenario: Scenario, mode: str) -> None:
    member = scenario.members[scenario.member(0).name]
    await request_json(
        member,
        "PATCH",
        f"/api/v1/namespaces/{scenario.app_namespace}/configmaps/api-config",
        body={"data": {"mode": mode}},
        content_type="application/merge-patch+json",
    )


def sync_status(apps: dict[str, Any], name: str) -> str:
    return str(((apps.get(name) or {}).get("status") or {}).get("sync", {}).get("status"))


async def test_drift_is_told_once_per_drift_and_rearmed_when_reverted(
    sim_scenario: Scenario, sink: Receiver
) -> None:
    """fleet's on-drift-detected: the live objects changed at the synced revision (the
    Application has automated sync without selfHeal, so the drift stays)."""
    scenario = sim_scenario
    await register(scenario, sink, **{"template.app-drift-detected": hook_template("drift")})
    async with scenario.controller(notifications=FAST):
        await create_app(scenario, "api", {SUBSCRIBE + "on-drift-detected.hook": ""})
        await scenario.wait_apps(lambda a: synced_and_healthy(a.get("api", {})))
        await edit_api_config(scenario, "slow")
        await sink.wait_for(1, "/drift/api")
        await edit_api_config(scenario, "slower")  # still drifted: nothing new
        await edit_api_config(scenario, "fast")  # reverted by hand: re-armed
        await scenario.wait_apps(lambda a: sync_status(a, "api") == "Synced")
        assert len(sink.on("/drift/api")) == 1
        await edit_api_config(scenario, "slow")
        await sink.wait_for(2, "/drift/api")
    assert len(sink.on("/drift/api")) == 2


async def test_subscriptions_on_the_project_reach_its_applications(
    sim_scenario: Scenario, sink: Receiver
) -> None:
    scenario = sim_scenario
    await register(scenario, sink)
    project = {
        "apiVersion": API_VERSION,
        "kind": "Project",
        "metadata": {
            "name": "default",
            "namespace": scenario.namespace,
            "annotations": {SUBSCRIBE + "on-created.hook": ""},
        },
        "spec": {"sourceRepos": ["*"], "destinations": [{"name": "*", "namespace": "*"}]},
    }
    await request_json(scenario.hub, "POST", PROJECT.collection(scenario.namespace), body=project)
    async with scenario.controller(notifications=FAST):
        await create_app(scenario, "api", {})
        await sink.wait_for(1, "/created/api")
        await wait_notified(scenario, "api", "on-created")


class _BrokenOnce(Notifier):
    """A notifier whose first run trips over something (as a bug would)."""

    runs = 0

    async def run(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        type(self).runs += 1
        if type(self).runs == 1:
            raise RuntimeError("a bug in the notifier")
        await super().run(task_status=task_status)


async def test_a_failing_notifier_is_restarted_and_never_takes_the_controller_down(
    sim_scenario: Scenario, sink: Receiver
) -> None:
    scenario = sim_scenario
    await put_config(scenario, sink)
    await create_app(scenario, "api", {SUBSCRIBE + "on-created.hook": ""})
    made: list[Notifier] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            partial(
                keep_running,
                lambda: _BrokenOnce(scenario.hub, scenario.namespace, settings=FAST),
                made.append,
                delay=0.05,
            )
        )
        await sink.wait_for(1, "/created/api")
        tg.cancel_scope.cancel()
    assert len(made) == 2


async def test_a_failed_sync_is_told_once_per_revision_with_its_message(
    sim_scenario: Scenario, sink: Receiver
) -> None:
    scenario = sim_scenario
    bad = scenario.upstream.commit({"apps/api/bad.yaml": configmap("Bad_Name", {})}, "bad")
    failed_template = (
        "webhook:\n  hook:\n    method: POST\n    path: /sync-failed/{{.app.metadata.name}}\n"
        '    body: \'{"revision": "{{.app.status.operationState.syncResult.revision}}", '
        '"message": {{.app.status.operationState.message | toJson}}}\'\n'
    )
    await register(scenario, sink, **{"template.app-sync-failed": failed_template})
    async with scenario.controller(notifications=FAST):
        await create_app(scenario, "api", {SUBSCRIBE + "on-sync-failed.hook": ""})
        await sink.wait_for(1, "/sync-failed/api")
        good = scenario.upstream.commit({"apps/api/bad.yaml": configmap("good", {})}, "fixed")
        await scenario.wait_apps(lambda a: synced_and_healthy(a.get("api", {}), good))
        assert len(sink.on("/sync-failed/api")) == 1  # retries of the bad commit told nothing
        again = scenario.upstream.commit(
            {"apps/api/bad.yaml": configmap("Again_Bad", {})}, "bad again"
        )
        await sink.wait_for(2, "/sync-failed/api")
    first, second = (r.json() for r in sink.on("/sync-failed/api"))
    assert (first["revision"], second["revision"]) == (bad, again)
    assert first["message"] and second["message"]


async def test_a_condition_on_time_turns_true_without_any_change_to_the_application(
    sim_scenario: Scenario, sink: Receiver
) -> None:
    """Applications are evaluated again every `resync`: time-based triggers fire."""
    scenario = sim_scenario
    due = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await put_config(
        scenario,
        sink,
        **{
            "trigger.on-late": (
                "- when: time.Now().After(time.Parse("
                "app.metadata.annotations['example.com/due']))\n  send: [app-created]"
            )
        },
    )
    await create_app(scenario, "api", {SUBSCRIBE + "on-late.hook": "", "example.com/due": due})
    settings = NotifySettings(resync=0.2, retry=FAST.retry)
    notifier = Notifier(scenario.hub, scenario.namespace, settings=settings)
    async with anyio.create_task_group() as tg:
        await tg.start(notifier.run)
        await sink.wait_for(1, "/created/api")
        tg.cancel_scope.cancel()
    assert datetime.now(UTC) >= datetime.fromisoformat(due)
