"""Untrusted input never crashes the notifier: generated expressions, Application documents,
subscription annotations and ConfigMap values end in a documented error or a reported
problem, never another exception."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.notify.config import parse_config
from fleet.notify.decide import decide
from fleet.notify.expr import ExprError, compile_expression

QUICK = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))

TOKENS = [
    "app",
    ".",
    "?.",
    "status",
    "sync",
    "[",
    "]",
    "(",
    ")",
    "'x'",
    '"y"',
    "1",
    "2.5",
    "nil",
    "true",
    "and",
    "or",
    "not",
    "in",
    "==",
    "<",
    "!",
    "&&",
    "||",
    "??",
    "?",
    ":",
    ",",
    "+",
    "-",
    "len",
    "time",
    "Now",
    "Parse",
    "matches",
    "'(a+)+$'",
    "contains",
    "metadata",
    "name",
]
expressions = st.lists(st.sampled_from(TOKENS), max_size=30).map(" ".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
apps = st.fixed_dictionaries(
    {
        "metadata": st.fixed_dictionaries(
            {
                "name": st.text(max_size=8),
                "annotations": st.dictionaries(
                    st.sampled_from(
                        [
                            "notifications.argoproj.io/subscribe.on-deployed.slack",
                            "notifications.argoproj.io/subscribe.slack",
                            "notifications.argoproj.io/subscriptions",
                            "notified.notifications.argoproj.io",
                        ]
                    ),
                    st.text(max_size=40) | json_values.map(str),
                ),
            }
        ),
        "status": json_values,
    }
)


@QUICK
@given(expressions, json_values)
def test_generated_expressions_fail_only_with_expression_errors(source: str, app: Any) -> None:
    with contextlib.suppress(ExprError):
        compile_expression(source).evaluate({"app": app})


@QUICK
@given(apps)
def test_generated_applications_never_break_the_decision(app: dict[str, Any]) -> None:
    config = parse_config({"defaultTriggers": "[on-deployed, on-sync-failed, on-created]"})
    decide(app, config, {})


@QUICK
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "service.slack",
                "service.teams",
                "service.webhook.x",
                "template.t",
                "trigger.t",
                "defaultTriggers",
                "context",
                "service.",
                "trigger.on-deployed",
                "subscriptions",
            ]
        ),
        st.text(max_size=60) | json_values.map(str),
    )
)
def test_generated_configmaps_become_problems_not_exceptions(data: dict[str, str]) -> None:
    parse_config(data)
