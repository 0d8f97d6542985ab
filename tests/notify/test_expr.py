"""Trigger conditions: expr-lang's common subset, evaluated safely and within bounds."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.notify.catalog import BUILTIN_TRIGGERS
from fleet.notify.config import parse_config
from fleet.notify.expr import (
    MAX_NODES,
    MAX_SOURCE,
    ExprRuntimeError,
    ExprSyntaxError,
    compile_expression,
)


def run(source: str, app: dict[str, Any] | None = None) -> Any:
    return compile_expression(source).evaluate({"app": app or {}})


def synced_app(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "annotations": {"example.com/version": "v2"}},
        "status": {
            "sync": {"status": "Synced", "revision": "abc"},
            "health": {"status": "Healthy", "lastTransitionTime": "2026-01-01T10:00:05Z"},
            "operationState": {
                "phase": "Succeeded",
                "finishedAt": "2026-01-01T10:00:00Z",
                "syncResult": {"revision": "abc"},
            },
            **status,
        },
    }


def test_literals_and_comparisons() -> None:
    assert run("'a' == \"a\" and 1 < 2.5 and 3 >= 3 and nil == nil and true != false") is True


def test_bool_is_not_a_number_as_in_go() -> None:
    assert run("true == 1") is False


def test_member_index_and_optional_access() -> None:
    app = synced_app()
    assert run('app.metadata.annotations["example.com/version"]', app) == "v2"
    assert run("app.status.missing?.phase", app) is None
    assert run("app.status.missing?.phase ?? 'none'", app) == "none"


def test_field_of_nil_is_a_runtime_error_as_in_expr_lang() -> None:
    with pytest.raises(ExprRuntimeError, match="from nil"):
        run("app.status.operationState.phase", {"status": {}})


def test_in_and_not_in_lists() -> None:
    app = synced_app()
    assert run("app.status.operationState.phase in ['Error', 'Succeeded']", app) is True
    assert run("app.status.sync.status not in ['Synced']", app) is False


def test_string_operators_and_functions() -> None:
    app = synced_app()
    assert run("app.metadata.name startsWith 'we' && app.metadata.name endsWith 'eb'", app)
    assert run("app.metadata.name contains 'e' and len(app.metadata.name) == 3", app)
    assert run("app.metadata.name matches '^w[a-z]+$'", app) is True
    assert run("strings.ToUpper(app.metadata.name) == 'WEB'", app) is True


def test_matches_uses_re2_and_refuses_backreferences() -> None:
    with pytest.raises(ExprRuntimeError, match="matches"):
        run(r"'aa' matches '(a)\\1'")


def test_time_parse_before_and_durations() -> None:
    app = synced_app()
    assert run(
        "time.Parse(app.status.operationState.finishedAt).Before("
        "time.Parse(app.status.health.lastTransitionTime))",
        app,
    )
    assert run(
        "time.Parse(app.status.health.lastTransitionTime).Sub("
        "time.Parse(app.status.operationState.finishedAt)).Seconds() == 5",
        app,
    )
    assert run("time.Now().Sub(time.Parse('2020-01-01T00:00:00Z')) > time.Hour")


def test_ternary_and_negation() -> None:
    assert run("!(1 > 2) ? 'yes' : 'no'") == "yes"
    assert run("not false") is True


def test_python_names_cannot_be_reached() -> None:
    with pytest.raises(ExprSyntaxError, match="unknown name '__import__'"):
        compile_expression("__import__('os')")
    assert run("app.__class__", {"metadata": {}}) is None


def test_unknown_helpers_are_compile_errors() -> None:
    with pytest.raises(ExprSyntaxError, match="repo"):
        compile_expression("repo.RepoURLToHTTPS(app.spec.source.repoURL) != ''")
    with pytest.raises(ExprSyntaxError, match=r"time\.Foo"):
        compile_expression("time.Foo()")


def test_syntax_errors_say_where() -> None:
    with pytest.raises(ExprSyntaxError, match="end of expression at 14"):
        compile_expression("app.status == ")


def test_source_and_node_bounds() -> None:
    with pytest.raises(ExprSyntaxError, match=str(MAX_SOURCE)):
        compile_expression("1 == 1 and " * 500 + "true")
    with pytest.raises(ExprSyntaxError, match=str(MAX_NODES)):
        compile_expression(" or ".join(["true"] * 400))


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(ExprSyntaxError, match="nested"):
        compile_expression("(" * 100 + "true" + ")" * 100)


def test_evaluation_steps_are_bounded() -> None:
    big = {"items": list(range(30_000))}
    with pytest.raises(ExprRuntimeError, match="steps"):
        compile_expression("-1 in app.items").evaluate({"app": big})


def test_catalog_on_deployed_fires_for_a_healthy_synced_app() -> None:
    config = parse_config({})
    (condition,) = config.triggers["on-deployed"]
    assert condition.when.evaluate({"app": synced_app()}) is True
    assert condition.once_per is not None
    assert condition.once_per.evaluate({"app": synced_app()}) == "abc"


def test_catalog_on_deployed_waits_for_health_after_the_sync() -> None:
    app = synced_app()
    app["status"]["health"]["lastTransitionTime"] = "2026-01-01T09:00:00Z"  # before the sync
    (condition,) = parse_config({}).triggers["on-deployed"]
    assert condition.when.evaluate({"app": app}) is False


def test_on_drift_detected_is_out_of_sync_at_the_synced_revision() -> None:
    (condition,) = parse_config({}).triggers["on-drift-detected"]
    drifted = synced_app(sync={"status": "OutOfSync", "revision": "abc"})
    new_commit = synced_app(sync={"status": "OutOfSync", "revision": "def"})
    assert condition.when.evaluate({"app": drifted}) is True
    assert condition.when.evaluate({"app": new_commit}) is False


def test_every_builtin_trigger_compiles() -> None:
    config = parse_config({})
    assert set(BUILTIN_TRIGGERS) <= set(config.triggers)
    assert config.problems == ()
