"""What one Application's change means: which notifications are due, which are re-armed.

Pure (no I/O), so the rules are tested on their own: for each subscribed trigger, each
condition is evaluated; a true condition whose state key is neither recorded nor skipped is
due; a false one re-arms (forgets) its key unless the condition has an oncePer value, whose
keys stay so each value is told once. An execution error is false, as in Argo CD; a trigger
that does not exist or could not be compiled is a problem naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping, MutableSet
from dataclasses import dataclass, field
from typing import Any

from fleet.notify.config import CONFIGMAP, NotifyConfig
from fleet.notify.expr import ExprRuntimeError, format_value
from fleet.notify.state import condition_key, state_key
from fleet.notify.subscriptions import Destination, destinations


@dataclass(frozen=True, slots=True)
class Due:
    trigger: str
    key: str
    destination: Destination
    send: tuple[str, ...]


@dataclass
class Decision:
    due: list[Due] = field(default_factory=list)
    rearmed: bool = False
    """Keys were removed from the state (the annotation needs writing)."""
    problems: list[tuple[str, str, str]] = field(default_factory=list)
    """(what, trigger, message): subscription or trigger problems to report once."""


def _annotations(app: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = app.get("metadata")
    value = meta.get("annotations") if isinstance(meta, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _add_global(
    wanted: dict[str, list[Destination]], app: Mapping[str, Any], config: NotifyConfig
) -> None:
    """The ConfigMap's `subscriptions` whose selector matches the Application's labels."""
    if not config.subscriptions:
        return
    meta = app.get("metadata")
    labels = meta.get("labels") if isinstance(meta, Mapping) else None
    labels = labels if isinstance(labels, Mapping) else {}
    for subscription in config.subscriptions:
        if not subscription.selector.matches(labels):
            continue
        for trigger in subscription.triggers or config.default_triggers:
            known = wanted.setdefault(trigger, [])
            known.extend(d for d in subscription.destinations if d not in known)


def decide(
    app: Mapping[str, Any],
    config: NotifyConfig,
    state: MutableMapping[str, int],
    skip: Callable[[str], bool] = lambda _key: False,
    failed: MutableSet[str] | None = None,
    project: Mapping[str, Any] | None = None,
) -> Decision:
    """The notifications due for `app` given what was sent (`state`, updated in place when a
    condition re-arms) and keys to `skip` (in flight). `failed` keys are not due again until
    their condition turns false. `project`: the Application's Project (or AppProject), whose
    subscription annotations apply to it too."""
    failed = failed if failed is not None else set()
    decision = Decision()
    wanted, problems = destinations(
        _annotations(app), config.default_triggers, config.service_default_triggers
    )
    decision.problems.extend((p, "", p) for p in problems)
    if project is not None:  # Argo CD: a Project's subscriptions cover all its Applications
        inherited, _ = destinations(
            _annotations(project), config.default_triggers, config.service_default_triggers
        )
        for trigger, dests in inherited.items():
            known = wanted.setdefault(trigger, [])
            known.extend(d for d in dests if d not in known)
    _add_global(wanted, app, config)
    env = {"app": app}
    for trigger, dests in wanted.items():
        conditions = config.triggers.get(trigger)
        if conditions is None:
            why = config.broken_triggers.get(trigger) or (
                f"trigger {trigger!r} is not configured (no trigger.{trigger} in {CONFIGMAP} "
                "and no built-in of that name)"
            )
            decision.problems.append((f"trigger:{trigger}", trigger, why))
            continue
        for index, condition in enumerate(conditions):
            try:
                triggered = condition.when.evaluate(env) is True
            except ExprRuntimeError:  # Argo CD: an execution error is false
                triggered = False
            once = ""
            if condition.once_per is not None:
                try:
                    once = format_value(condition.once_per.evaluate(env))
                except ExprRuntimeError:
                    once = ""
            ckey = condition_key(index, condition.when.source)
            for dest in dests:
                key = state_key(trigger, ckey, once, dest)
                if not triggered:
                    failed.discard(key)
                    if not once and key in state:
                        del state[key]
                        decision.rearmed = True
                    continue
                if key in state or key in failed or skip(key):
                    continue
                decision.due.append(Due(trigger, key, dest, condition.send))
    return decision
