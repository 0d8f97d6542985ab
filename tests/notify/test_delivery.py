"""Services and delivery against a real HTTP receiver on loopback: the request each service
makes, retries with backoff, refusals, timeouts, redirects."""

from __future__ import annotations

import base64
from typing import Any

import anyio
import pytest

from fleet.notify.config import parse_config
from fleet.notify.delivery import Delivery, Job, Outcome, RetryPolicy
from fleet.notify.http import Sender
from fleet.notify.metrics import NotifyMetrics
from fleet.notify.subscriptions import Destination
from tests.notify.receiver import Receiver, receiver

pytestmark = pytest.mark.anyio

APP = {
    "metadata": {"name": "web", "namespace": "fleet-system"},
    "spec": {"source": {"repoURL": "https://git.example.com/config.git"}},
    "status": {
        "sync": {"status": "Synced", "revision": "abc123"},
        "health": {"status": "Healthy"},
        "operationState": {
            "phase": "Succeeded",
            "finishedAt": "2026-01-01T10:00:00Z",
            "syncResult": {"revision": "abc123"},
        },
    },
}
FAST = RetryPolicy(attempts=4, backoff=0.05, max_backoff=0.2)


async def deliver(
    config_data: dict[str, str],
    service: str,
    recipient: str,
    send: tuple[str, ...],
    *,
    policy: RetryPolicy = FAST,
    timeout: float = 10.0,
    secret: dict[str, Any] | None = None,
) -> tuple[Outcome, NotifyMetrics]:
    config = parse_config(config_data, secret)
    assert config.problems == ()
    metrics = NotifyMetrics()
    outcomes: list[Outcome] = []
    done = anyio.Event()

    def on_done(outcome: Outcome) -> None:
        outcomes.append(outcome)
        done.set()

    async with Sender(timeout=timeout) as sender, anyio.create_task_group() as tg:
        delivery = Delivery(sender, metrics, on_done, policy=policy)
        await tg.start(delivery.run)
        data = {"app": APP, "context": dict(config.context), "serviceType": service}
        job = Job(
            "web",
            "on-sync-succeeded",
            "k",
            Destination(service, recipient),
            config.services[service],
            config.templates,
            send,
            data,
        )
        assert delivery.submit(job)
        with anyio.fail_after(60):
            await done.wait()
        tg.cancel_scope.cancel()
    return outcomes[0], metrics


def count(metrics: NotifyMetrics, result: str, service: str) -> float:
    value = metrics.notifications.labels("on-sync-succeeded", service, result)._value.get()
    return float(value)


async def test_slack_posts_chat_message_with_the_token_and_rendered_template(
    sink: Receiver,
) -> None:
    token = base64.b64encode(b"xoxb-123").decode()
    outcome, metrics = await deliver(
        {"service.slack": f"token: $slack-token\napiURL: {sink.url}/api\nusername: fleet"},
        "slack",
        "deploys",
        ("app-sync-succeeded",),
        secret={"data": {"slack-token": token}},
    )
    assert outcome.result == "sent" and count(metrics, "sent", "slack") == 1
    (request,) = sink.requests
    assert request.path == "/api/chat.postMessage"
    assert request.headers["Authorization"] == "Bearer xoxb-123"
    body = request.json()
    assert body["channel"] == "deploys" and body["username"] == "fleet"
    assert body["text"] == "web synced to abc123 at 2026-01-01T10:00:00Z."
    assert body["attachments"][0]["title_link"] == "https://localhost:4000/applications/web"


async def test_slack_ok_false_is_a_failed_delivery_naming_slacks_error(sink: Receiver) -> None:
    sink.answer = b'{"ok": false, "error": "channel_not_found"}'
    outcome, _ = await deliver(
        {"service.slack": f"token: t\napiURL: {sink.url}"},
        "slack",
        "nowhere",
        ("app-sync-succeeded",),
    )
    assert outcome.result == "failed" and "channel_not_found" in outcome.message
    assert len(sink.requests) == 1  # a refusal is not retried


async def test_slack_incoming_webhook_url(sink: Receiver) -> None:
    outcome, _ = await deliver(
        {"service.slack": f"url: {sink.url}/services/T0/B0/x"},
        "slack",
        "",
        ("app-sync-succeeded",),
    )
    assert outcome.result == "sent"
    assert sink.requests[0].path == "/services/T0/B0/x"
    assert "channel" not in sink.requests[0].json()


async def test_teams_posts_a_message_card_to_the_recipients_url(sink: Receiver) -> None:
    outcome, _ = await deliver(
        {"service.teams": f"recipientUrls:\n  ops: {sink.url}/webhookb2/ops"},
        "teams",
        "ops",
        ("app-sync-succeeded",),
    )
    assert outcome.result == "sent"
    card = sink.on("/webhookb2/ops")[0].json()
    assert card["@type"] == "MessageCard" and card["title"] == "web synced"
    assert {"name": "Revision", "value": "abc123"} in card["sections"][0]["facts"]
    assert card["potentialAction"][0]["targets"][0]["uri"].endswith("/applications/web")


async def test_webhook_uses_the_templates_method_path_and_body_with_basic_auth(
    sink: Receiver,
) -> None:
    outcome, _ = await deliver(
        {
            "service.webhook.deploys": (
                f"url: {sink.url}/hooks\nheaders:\n- name: X-Team\n  value: platform\n"
                "basicAuth:\n  username: bot\n  password: $pw"
            ),
            "template.hook": (
                "webhook:\n  deploys:\n    method: PUT\n    path: /{{.app.metadata.name}}\n"
                '    body: \'{"revision": "{{.app.status.sync.revision}}"}\''
            ),
        },
        "deploys",
        "",
        ("hook",),
        secret={"data": {"pw": base64.b64encode(b"s3cret").decode()}},
    )
    assert outcome.result == "sent"
    (request,) = sink.requests
    assert (request.method, request.path) == ("PUT", "/hooks/web")
    assert request.json() == {"revision": "abc123"}
    assert request.headers["X-Team"] == "platform"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"bot:s3cret").decode()


async def test_a_receiver_answering_500_then_200_is_retried_and_delivers_once(
    sink: Receiver,
) -> None:
    sink.statuses = [500, 503]
    outcome, metrics = await deliver(
        {
            "service.webhook.hook": f"url: {sink.url}",
            "template.t": "webhook:\n  hook:\n    method: POST",
        },
        "hook",
        "",
        ("t",),
    )
    assert outcome.result == "sent"
    assert len(sink.requests) == 3
    assert count(metrics, "sent", "hook") == 1
    assert metrics.retries.labels("hook")._value.get() == 2


async def test_a_receiver_that_keeps_failing_is_given_up_after_the_attempts(
    sink: Receiver,
) -> None:
    sink.statuses = [500] * 10
    outcome, metrics = await deliver(
        {"service.webhook.hook": f"url: {sink.url}", "template.t": "message: x"},
        "hook",
        "",
        ("t",),
    )
    assert outcome.result == "failed" and "answered 500" in outcome.message
    assert len(sink.requests) == FAST.attempts
    assert count(metrics, "failed", "hook") == 1


async def test_a_4xx_is_not_retried(sink: Receiver) -> None:
    sink.statuses = [403]
    outcome, _ = await deliver(
        {"service.webhook.hook": f"url: {sink.url}", "template.t": "message: x"},
        "hook",
        "",
        ("t",),
    )
    assert outcome.result == "failed" and len(sink.requests) == 1


async def test_a_hanging_receiver_times_out_and_is_retried(sink: Receiver) -> None:
    sink.hold = True
    outcome, _ = await deliver(
        {"service.webhook.hook": f"url: {sink.url}", "template.t": "message: x"},
        "hook",
        "",
        ("t",),
        policy=RetryPolicy(attempts=2, backoff=0.01, max_backoff=0.01),
        timeout=0.5,
    )
    assert outcome.result == "failed" and "no answer within 0.5s" in outcome.message
    assert len(sink.requests) == 2


async def test_redirects_are_not_followed(sink: Receiver) -> None:
    sink.statuses = [302]
    outcome, _ = await deliver(
        {"service.webhook.hook": f"url: {sink.url}", "template.t": "message: x"},
        "hook",
        "",
        ("t",),
    )
    assert outcome.result == "failed" and "redirects are not followed" in outcome.message


async def test_a_template_error_is_reported_naming_the_template(sink: Receiver) -> None:
    outcome, metrics = await deliver(
        {
            "service.webhook.hook": f"url: {sink.url}",
            "template.t": "message: '{{ fail \"a team label is needed\" }}'",
        },
        "hook",
        "",
        ("t",),
    )
    assert outcome.result == "error"
    assert outcome.message.startswith("template.t.message") and "a team label" in outcome.message
    assert count(metrics, "error", "hook") == 1
    assert sink.requests == []


async def test_failures_name_the_receivers_origin_but_never_its_secret_path(
    sink: Receiver,
) -> None:
    sink.statuses = [404]
    outcome, _ = await deliver(
        {"service.slack": f"url: {sink.url}/services/T0/B0/s3cretpath"},
        "slack",
        "",
        ("app-sync-succeeded",),
    )
    assert outcome.result == "failed"
    assert sink.url in outcome.message and "s3cretpath" not in outcome.message


async def test_tls_is_verified_unless_the_service_says_insecure_skip_verify() -> None:
    async with receiver(tls=True) as tls_sink:
        refused, _ = await deliver(
            {"service.webhook.hook": f"url: {tls_sink.url}", "template.t": "message: x"},
            "hook",
            "",
            ("t",),
        )
        allowed, _ = await deliver(
            {
                "service.webhook.hook": f"url: {tls_sink.url}\ninsecureSkipVerify: true",
                "template.t": "message: x",
            },
            "hook",
            "",
            ("t",),
        )
    assert refused.result == "failed" and "TLS failed" in refused.message
    assert allowed.result == "sent"
    assert len(tls_sink.requests) == 1
