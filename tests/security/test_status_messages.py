"""What reaches status: every reason an Application or ApplicationSet is not progressing is in
its status (not only in the controller's log), and no credential is, anywhere.

The real controllers against fleet.sim (tests/controllers/harness.py).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import structlog

from fleet.api.resources import APPLICATION_SET
from fleet.kube import request_json
from fleet.logging import processors
from tests.clusters.harness import simulated_env
from tests.controllers.harness import Scenario, condition
from tests.git.support import free_port

pytestmark = pytest.mark.anyio

PASSWORD = "hunter2-Sup3rSecret"


@pytest.fixture
async def scenario(tmp_path: Path) -> AsyncIterator[Scenario]:
    async with (
        simulated_env(tmp_path / "sim", ["m1"]) as env,
        Scenario.open(env, tmp_path / "scenario") as made,
    ):
        await made.register(made.member(0))
        yield made


@pytest.fixture
def fleet_log() -> Iterator[io.StringIO]:
    """The process's log as `fleet controller run` renders it (fleet.logging's processors,
    JSON lines), written here instead of stderr."""
    saved = structlog.get_config()
    sink = io.StringIO()
    structlog.configure(
        processors=processors(structlog.processors.JSONRenderer()),
        logger_factory=structlog.PrintLoggerFactory(file=sink),
        wrapper_class=structlog.make_filtering_bound_logger(0),
        cache_logger_on_first_use=False,
    )
    yield sink
    structlog.configure(**saved)


def spec(scenario: Scenario, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "project": "default",
        "source": {"repoURL": scenario.repo_url, "path": "apps/api", "targetRevision": "main"},
        "destination": {"name": "m1", "namespace": scenario.app_namespace},
        "syncPolicy": {"automated": {}, "syncOptions": ["CreateNamespace=true"]},
    }
    body.update(changes)
    return body


async def invalid_spec_message(scenario: Scenario, name: str, body: dict[str, Any]) -> str:
    await scenario.create_application(name, body)
    apps = await scenario.wait_apps(
        lambda apps: condition(apps.get(name, {}), "InvalidSpecError") != {},
        timeout=30,
        what=f"an InvalidSpecError condition on {name}",
    )
    return str(condition(apps[name], "InvalidSpecError")["message"])


async def test_a_nul_byte_in_the_source_path_is_an_invalid_spec_condition(
    scenario: Scenario,
) -> None:
    body = spec(scenario)
    body["source"]["path"] = "apps/api\x00/../../etc"
    async with scenario.controller():
        message = await invalid_spec_message(scenario, "nul-path", body)
    assert "spec.source.path" in message
    member = scenario.member(0)
    assert await scenario.member_object(member, "api/v1/configmaps", "api-config") is None


async def test_a_negative_retry_max_duration_is_an_invalid_spec_condition(
    scenario: Scenario,
) -> None:
    body = spec(scenario)
    body["syncPolicy"]["retry"] = {"limit": 2, "backoff": {"maxDuration": "-5s"}}
    async with scenario.controller():
        message = await invalid_spec_message(scenario, "negative-backoff", body)
    assert "spec.syncPolicy.retry.backoff.maxDuration" in message


async def test_a_deeply_nested_spec_is_an_invalid_spec_condition(scenario: Scenario) -> None:
    """A field nested 150 deep (the API server keeps it: the field preserves unknown fields):
    reported on the Application, not left to a RecursionError somewhere later."""
    values: Any = "x"
    for _ in range(150):
        values = {"a": values}
    scenario.upstream.commit(
        {
            "charts/c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
            "charts/c/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\n"
            "metadata:\n  name: deep\ndata:\n  a: b\n",
        },
        "a chart",
    )
    body = spec(scenario)
    body["source"].update(path="charts/c", helm={"valuesObject": values})
    async with scenario.controller():
        message = await invalid_spec_message(scenario, "deep-values", body)
    assert "nested deeper than" in message


@pytest.mark.parametrize(
    ("field", "backoff"),
    [
        ("spec.syncPolicy.retry.backoff.duration", {"duration": "soon"}),
        ("spec.syncPolicy.retry.backoff.maxDuration", {"maxDuration": "5 minutes"}),
        ("spec.syncPolicy.retry.backoff.factor", {"factor": -2}),
    ],
    ids=["duration", "maxDuration", "factor"],
)
async def test_a_malformed_retry_backoff_the_schema_admits_is_named_in_status(
    scenario: Scenario, field: str, backoff: dict[str, Any]
) -> None:
    """The CRD types these fields (string, integer) but cannot check a duration's grammar or
    a factor's range: the controller does, before anything else reads them."""
    body = spec(scenario)
    body["syncPolicy"]["retry"] = {"limit": 2, "backoff": backoff}
    async with scenario.controller():
        message = await invalid_spec_message(scenario, "malformed", body)
    assert field in message


async def test_a_password_in_a_repo_url_never_reaches_status_or_logs(
    scenario: Scenario, fleet_log: io.StringIO
) -> None:
    leaky = f"http://bot:{PASSWORD}@127.0.0.1:{free_port()}/config.git"  # nothing listens
    appset = scenario.appset("leaky")
    appset["spec"]["generators"][0]["matrix"]["generators"][1]["git"]["repoURL"] = leaky
    body = spec(scenario)
    body["source"]["repoURL"] = leaky
    async with scenario.controller():
        await scenario.apply_appset(appset)
        await scenario.create_application("leaky-app", body)
        apps = await scenario.wait_apps(
            lambda apps: condition(apps.get("leaky-app", {}), "ComparisonError") != {},
            timeout=60,
            what="a ComparisonError on leaky-app",
        )
        with anyio.fail_after(60):
            while True:
                appset_now = await request_json(
                    scenario.hub, "GET", APPLICATION_SET.item(scenario.namespace, "leaky")
                )
                if condition(appset_now, "ErrorOccurred").get("status") == "True":
                    break
                await anyio.sleep(0.2)
    app_status = json.dumps(apps["leaky-app"].get("status"))
    appset_status = json.dumps(appset_now.get("status"))
    assert "config.git" in appset_status  # the repository is named ...
    assert PASSWORD not in appset_status  # ... without its password
    assert PASSWORD not in app_status
    log = fleet_log.getvalue()
    assert "config.git" in log
    assert PASSWORD not in log


@pytest.mark.parametrize(
    "hostile",
    ["a" * 2_000_000, "-----BEGIN PRIVATE KEY-----" * 80_000, "https://" + "a" * 2_000_000],
    ids=["letters", "unterminated-keys", "url-without-host-end"],
)
def test_redacting_a_long_hostile_message_takes_linear_time(hostile: str) -> None:
    """Redaction runs on every log line and status message, some quoting tenant text: with a
    backtracking engine these took hours (quadratic) while holding the GIL. The bound is a
    thousand times what a linear pass needs; a quadratic one never meets it."""
    code = "import sys; from fleet.redaction import redact; redact(sys.stdin.read())"
    subprocess.run([sys.executable, "-c", code], input=hostile, text=True, check=True, timeout=60)


@pytest.mark.parametrize(
    "hostile", ["1" * 200_000 + "x", "1s" * 100_000, "." * 200_000], ids=["digits", "parts", "dots"]
)
def test_a_huge_retry_duration_is_refused_at_once_and_not_quoted(hostile: str) -> None:
    """A backtracking duration pattern took 11 s on 20,000 digits (quadratic): this one is
    refused by its length before any scan, and the message does not carry it."""
    from fleet.api.application import InvalidApplicationError, parse_application

    app = {
        "apiVersion": "fleet.gitops.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "a", "namespace": "fleet-system"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example/a.git", "path": "."},
            "destination": {"name": "c", "namespace": "n"},
            "syncPolicy": {"retry": {"limit": 2, "backoff": {"maxDuration": hostile}}},
        },
    }
    with pytest.raises(InvalidApplicationError, match="maxDuration") as refused:
        parse_application(app)
    assert len(str(refused.value)) < 300


def test_a_status_message_quoting_huge_tenant_text_is_cut_so_the_status_can_be_written() -> None:
    from fleet.redaction import MAX_MESSAGE, redact_status

    status = {"conditions": [{"type": "ComparisonError", "message": "bad: " + "x" * 2_000_000}]}
    message = redact_status(status)["conditions"][0]["message"]
    assert len(message) <= MAX_MESSAGE
    assert message.startswith("bad: xxx") and message.endswith("more characters)")
