"""fleet on real kind clusters: a hub and two members, the controller in a Pod from the image
built from this checkout, Deployments whose Pods really start, a PreSync Job that really runs.

Runs wherever the harness can start its own Docker engine (root on Linux with apt-get and go;
see e2e/kind/host.py); elsewhere every test here skips with the reason. `FLEET_KIND=0` skips it
on purpose (say, for a quick local run). The first run builds everything (about 25 minutes cold
on 2 cores, see e2e/README.md); later runs find it up to date in seconds.

The tests share one set of clusters (module scope) and run in file order: each builds on the
state the one before left (converged, then drifted and healed, then a new commit, ...).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator

import pytest

from e2e.kind.engine import PrivateEngine
from e2e.kind.host import missing_reason
from e2e.kind.layout import Layout, harness_lock
from e2e.kind.prepare import prepare
from e2e.kind.session import (
    DEST_NAMESPACE,
    KindSession,
    docker_node,
    kind_session,
    node_running,
    wait_for,
)
from e2e.kind.stamps import Stages
from e2e.kind.workloads import PRESYNC_JOB

pytestmark = [pytest.mark.slow, pytest.mark.kind]

CONVERGE_TIMEOUT = 300.0
"""Hang guards, not expectations: a loaded 2-core machine can be slow."""


@pytest.fixture(scope="module")
def kind() -> Iterator[KindSession]:
    if os.environ.get("FLEET_KIND") == "0":
        pytest.skip("kind suite skipped: FLEET_KIND=0")
    reason = missing_reason()
    if reason is not None:
        pytest.skip(f"kind suite skipped: {reason}")
    layout = Layout()
    stages = Stages(layout.stamps)
    started = False
    with harness_lock(layout):
        try:
            builder, started = prepare(layout, stages)
            with kind_session(builder, stages) as session:
                yield session
        finally:
            if started:
                PrivateEngine(layout).stop()
            print("\nkind harness stages:\n" + stages.times.table(), file=sys.stderr)
            stages.times.write(layout.logs / "last-run-stages.json")


@pytest.fixture(scope="module")
def first_revision(kind: KindSession) -> str:
    """The shared scenario (e2e/scenario) converged at the first commit."""
    revision = kind.commit("blue")
    out: list[str] = []
    kind.stages.timed(
        "scenario: shared (converge)",
        lambda: out.append(kind.run_shared_scenario(revision, CONVERGE_TIMEOUT)),
    )
    assert "scenario passed: 4 Applications Synced and Healthy" in out[0], out[0]
    return revision


@pytest.fixture(autouse=True)
def diagnostics_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a failed test: the hub's objects, the members' workloads and the controller's log
    from inside its Pod, in the test output."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before and "kind" in request.fixturenames:
        session: KindSession = request.getfixturevalue("kind")
        text = session.diagnostics()
        # Straight to the terminal: output captured during teardown is not shown for a test
        # whose failure was in its setup or call.
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print("\nkind diagnostics after the failure:\n" + text, file=sys.stderr)


def _configmap_color(kind: KindSession, member_index: int) -> str:
    member = kind.members[member_index]
    doc = kind.get_json(member, "-n", DEST_NAMESPACE, "configmap", "web-config")
    return str((doc.get("data") or {}).get("color"))


def test_every_application_converges_synced_and_healthy(
    kind: KindSession, first_revision: str
) -> None:
    names = [name for member in kind.members for name in kind.apps_of(member)]
    assert kind.converged(names, first_revision) is None


def test_web_pods_really_run_and_the_service_has_endpoints(
    kind: KindSession, first_revision: str
) -> None:
    for member in kind.members:
        deployment = kind.get_json(member, "-n", DEST_NAMESPACE, "deployment", "web")
        assert deployment["status"].get("readyReplicas") == 1, deployment["status"]
        slices = kind.get_json(
            member,
            "-n",
            DEST_NAMESPACE,
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web",
        )
        ready = [
            endpoint
            for item in slices["items"]
            for endpoint in item.get("endpoints") or []
            if (endpoint.get("conditions") or {}).get("ready")
        ]
        assert ready, f"Service web on {member.name} has no ready endpoint: {slices['items']}"


def test_the_presync_job_ran_to_completion_on_every_member(
    kind: KindSession, first_revision: str
) -> None:
    for member in kind.members:
        job = kind.get_json(member, "-n", DEST_NAMESPACE, "job", PRESYNC_JOB)
        assert (job.get("status") or {}).get("succeeded") == 1, job.get("status")
        log = kind.kubectl(member, "-n", DEST_NAMESPACE, "logs", f"job/{PRESYNC_JOB}")
        assert "presync ran at" in log


def test_drift_on_a_member_is_reverted(kind: KindSession, first_revision: str) -> None:
    member = kind.members[0]
    patch = json.dumps({"data": {"color": "red"}})
    out = kind.kubectl(
        member, "-n", DEST_NAMESPACE, "patch", "configmap", "web-config", "-p", patch, "-o", "json"
    )
    drifted = json.loads(out)
    assert drifted["data"]["color"] == "red"
    drifted_version = int(drifted["metadata"]["resourceVersion"])

    def healed() -> str | None:
        doc = kind.get_json(member, "-n", DEST_NAMESPACE, "configmap", "web-config")
        color = (doc.get("data") or {}).get("color")
        newer = int(doc["metadata"]["resourceVersion"]) > drifted_version
        return None if color == "blue" and newer else f"web-config color is {color}"

    kind.stages.timed(
        "scenario: drift reverted",
        lambda: wait_for("self-heal of web-config", healed, CONVERGE_TIMEOUT),
    )
    wait_for(
        "the drifted Application back to Synced",
        lambda: kind.converged(kind.apps_of(member), first_revision),
        CONVERGE_TIMEOUT,
    )


def test_a_commit_rolls_out_to_every_member(kind: KindSession, first_revision: str) -> None:
    revision = kind.commit("green")
    names = [name for member in kind.members for name in kind.apps_of(member)]
    kind.stages.timed(
        "scenario: commit rolled out",
        lambda: wait_for(
            f"every Application at {revision[:12]}",
            lambda: kind.converged(names, revision),
            CONVERGE_TIMEOUT,
        ),
    )
    for index, member in enumerate(kind.members):
        assert _configmap_color(kind, index) == "green"
        deployment = kind.get_json(member, "-n", DEST_NAMESPACE, "deployment", "web")
        template = deployment["spec"]["template"]["metadata"]["annotations"]
        assert template["fleet.e2e/color"] == "green"
        assert deployment["status"].get("updatedReplicas") == 1, deployment["status"]


def test_a_stopped_member_does_not_hold_back_the_other(
    kind: KindSession, first_revision: str
) -> None:
    """`docker stop` one member's node: a new commit still reaches the other member; once the
    node is started again, its Applications catch up."""
    running, stopped = kind.members
    docker_node(kind.builder, "stop", stopped)
    try:
        revision = kind.commit("yellow")
        kind.stages.timed(
            "scenario: member down, other synced",
            lambda: wait_for(
                f"{running.name}'s Applications at {revision[:12]} while {stopped.name} is down",
                lambda: kind.converged(kind.apps_of(running), revision),
                CONVERGE_TIMEOUT,
            ),
        )
        assert not node_running(kind.builder, stopped)
        assert kind.converged(kind.apps_of(stopped), revision) is not None
    finally:
        docker_node(kind.builder, "start", stopped)
    kind.stages.timed(
        "scenario: member restarted, caught up",
        lambda: wait_for(
            f"{stopped.name}'s Applications at {revision[:12]} after its restart",
            lambda: kind.converged(kind.apps_of(stopped), revision),
            CONVERGE_TIMEOUT,
        ),
    )
    assert _configmap_color(kind, 1) == "yellow"
    assert kind.converged(kind.apps_of(running), revision) is None
