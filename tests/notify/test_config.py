"""argocd-notifications-cm and -secret as Argo CD reads them; subscriptions; the sent-state."""

from __future__ import annotations

import base64
import hashlib

from fleet.notify.config import parse_config
from fleet.notify.decide import decide
from fleet.notify.state import condition_key, dump_state, load_state, state_key
from fleet.notify.subscriptions import NOTIFIED, Destination, destinations


def secret(**values: str) -> dict[str, object]:
    return {"data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}}


def test_secret_references_are_substituted_into_service_options_only() -> None:
    config = parse_config(
        {
            "service.slack": "token: $slack-token\nusername: fleet",
            "context": "argocdUrl: https://cd.example.com\nnote: $slack-token",
        },
        secret(**{"slack-token": "xoxb-secret"}),
    )
    assert config.services["slack"].options["token"] == "xoxb-secret"
    assert config.context["note"] == "$slack-token"
    assert "xoxb-secret" not in repr(config.services["slack"])


def test_webhook_services_are_named_by_their_key() -> None:
    config = parse_config({"service.webhook.github": "url: https://api.github.com"})
    assert config.services["github"].kind == "webhook"


def test_a_user_trigger_replaces_the_builtin_of_that_name() -> None:
    config = parse_config(
        {"trigger.on-sync-succeeded": "- when: app.status.sync.status == 'Synced'\n  send: [x]"}
    )
    (condition,) = config.triggers["on-sync-succeeded"]
    assert condition.when.source == "app.status.sync.status == 'Synced'"


def test_bad_keys_are_problems_naming_the_key_and_the_rest_still_works() -> None:
    config = parse_config(
        {
            "trigger.broken": "- when: app.status ==\n  send: [app-created]",
            "template.bad": "message: '{{.app.metadata.name'",
            "service.email": "host: smtp.example.com",
            "service.slack": "token: x",
        }
    )
    problems = "\n".join(config.problems)
    assert "trigger.broken[0].when: unexpected end of expression" in problems
    assert "template.bad.message" in problems and "unclosed action" in problems
    assert "service.email: service type 'email' is not supported" in problems
    assert "broken" in config.broken_triggers and "bad" in config.broken_templates
    assert "slack" in config.services and "on-created" in config.triggers


def test_a_trigger_sending_an_unknown_template_is_reported() -> None:
    config = parse_config({"trigger.t": "- when: 'true'\n  send: [nowhere]"})
    assert "trigger.t[0].send: no template named 'nowhere'" in config.problems


def test_subscription_annotations_name_trigger_service_and_recipients() -> None:
    found, problems = destinations(
        {"notifications.argoproj.io/subscribe.on-sync-failed.slack": "ops; dev"}, (), {}
    )
    assert problems == []
    assert found == {"on-sync-failed": [Destination("slack", "dev"), Destination("slack", "ops")]}


def test_a_subscription_without_trigger_takes_the_default_triggers() -> None:
    found, _ = destinations(
        {"notifications.argoproj.io/subscribe.slack": "ops"},
        ("on-sync-failed", "on-deployed"),
        {},
    )
    assert set(found) == {"on-sync-failed", "on-deployed"}


def test_per_service_default_triggers_win() -> None:
    found, _ = destinations(
        {"notifications.argoproj.io/subscribe.teams": "ch"},
        ("on-deployed",),
        {"teams": ("on-health-degraded",)},
    )
    assert set(found) == {"on-health-degraded"}


def test_an_empty_value_is_one_empty_recipient_for_webhooks() -> None:
    found, _ = destinations({"notifications.argoproj.io/subscribe.on-created.hook": ""}, (), {})
    assert found == {"on-created": [Destination("hook", "")]}


def test_yaml_list_subscriptions() -> None:
    found, _ = destinations(
        {
            "notifications.argoproj.io/subscriptions": (
                "- trigger: [on-deployed, on-sync-failed]\n"
                "  destinations:\n  - service: slack\n    recipients: [ops]\n"
            )
        },
        (),
        {},
    )
    assert found == {
        "on-deployed": [Destination("slack", "ops")],
        "on-sync-failed": [Destination("slack", "ops")],
    }


def test_state_keys_are_argo_cds() -> None:
    """Keys written by Argo CD's notifications controller stay valid after a migration."""
    when = "app.status.operationState.phase in ['Succeeded']"
    key = state_key("on-sync-succeeded", condition_key(0, when), "", Destination("slack", "ops"))
    assert key.startswith("on-sync-succeeded:[0].") and key.endswith(":slack:ops")
    once = state_key("on-deployed", condition_key(0, when), "abc", Destination("slack", "ops"))
    assert once.startswith("abc:on-deployed:[0].")


def test_state_round_trip_keeps_the_newest_hundred() -> None:
    state = {f"k{i}": 1000 + i for i in range(150)}
    kept = load_state({NOTIFIED: dump_state(state)})
    assert len(kept) == 100 and "k149" in kept and "k0" not in kept
    assert load_state({NOTIFIED: "not json"}) == {}
    assert dump_state({}) is None


def test_global_subscriptions_reach_the_applications_their_selector_matches() -> None:
    config = parse_config(
        {
            "trigger.always": "- when: 'true'\n  send: [app-created]",
            "subscriptions": (
                "- recipients: [slack:prod-alerts, deploy-log]\n"
                "  triggers: [always]\n"
                "  selector: env in (prod, staging), !canary\n"
                "- recipients: [teams:platform]\n"
            ),
            "defaultTriggers": "[on-created]",
        }
    )
    assert config.problems == ()

    def due(labels: dict[str, str]) -> set[tuple[str, str]]:
        app = {"metadata": {"name": "web", "labels": labels}}
        return {(d.trigger, str(d.destination)) for d in decide(app, config, {}).due}

    assert due({"env": "prod"}) == {
        ("always", "slack:prod-alerts"),
        ("always", "deploy-log:"),
        ("on-created", "teams:platform"),
    }
    assert due({"env": "prod", "canary": "true"}) == {("on-created", "teams:platform")}


def test_a_bad_global_selector_is_a_problem_naming_the_entry() -> None:
    config = parse_config({"subscriptions": "- recipients: [slack:x]\n  selector: 'a in ()'"})
    assert config.problems == ("subscriptions[0].selector: 'a in ()': an empty set of values",)


# Argo CD's notifications catalog conditions (notifications_catalog/triggers/*.yaml), as its
# controller hashes them into the notified annotation's keys.
ARGOCD_CATALOG_WHEN = {
    "on-created": "true",
    "on-deleted": "app.metadata.deletionTimestamp != nil",
    "on-deployed": (
        "app.status.operationState != nil and app.status.operationState.phase in ['Succeeded']"
        " and app.status.health.status == 'Healthy' and "
        "!time.Parse(app.status.health.lastTransitionTime).Before("
        "time.Parse(app.status.operationState.finishedAt))"
    ),
    "on-health-degraded": "app.status.health.status == 'Degraded'",
    "on-sync-failed": (
        "app.status.operationState != nil and app.status.operationState.phase in "
        "['Error', 'Failed']"
    ),
    "on-sync-running": (
        "app.status.operationState != nil and app.status.operationState.phase in ['Running']"
    ),
    "on-sync-status-unknown": "app.status.sync.status == 'Unknown'",
    "on-sync-succeeded": "app.status.operationState.phase in ['Succeeded']",
}


def argocd_condition_key(index: int, when: str) -> str:
    digest = hashlib.sha1(when.encode(), usedforsecurity=False).digest()
    return f"[{index}].{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


def test_builtin_triggers_make_the_keys_argo_cd_wrote_so_a_takeover_resends_nothing() -> None:
    config = parse_config({})
    for trigger, when in ARGOCD_CATALOG_WHEN.items():
        (condition,) = config.triggers[trigger]
        assert condition_key(0, condition.when.source) == argocd_condition_key(0, when), trigger
