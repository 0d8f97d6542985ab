"""The built-in status agent settles workloads after the configured delay."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Mapping
from typing import Any

import pytest

from fleet.sim import SimServer
from tests.sim.conftest import DEPLOY_PATH, Raw, deployment

pytestmark = pytest.mark.anyio

HAS_WORKLOAD_STATUS = importlib.util.find_spec("fleet.sim.workload_status") is not None


async def _status_when(raw: Raw, path: str, ready: Any) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(100):
        _, body = await raw.request("GET", path)
        if ready(body.get("status") or {}):
            return body
        await asyncio.sleep(0.02)
    raise AssertionError(f"status never settled: {body.get('status')}")


@pytest.mark.skipif(not HAS_WORKLOAD_STATUS, reason="fleet.sim.workload_status not present")
async def test_deployment_gets_settled_status(raw: Raw) -> None:
    await raw.request("POST", DEPLOY_PATH, deployment("web", replicas=2))
    body = await _status_when(raw, DEPLOY_PATH + "/web", lambda s: s.get("readyReplicas") == 2)
    assert body["status"]["observedGeneration"] == 1
    conditions = {c["type"]: c["status"] for c in body["status"]["conditions"]}
    assert conditions["Available"] == "True"
    writer = [m for m in body["metadata"]["managedFields"] if m.get("subresource") == "status"]
    assert writer[0]["manager"] == "kube-controller-manager"


@pytest.mark.skipif(not HAS_WORKLOAD_STATUS, reason="fleet.sim.workload_status not present")
async def test_failing_annotation_gives_failing_status(raw: Raw) -> None:
    failing = deployment("bad")
    failing["metadata"]["annotations"] = {"fleet.gitops.dev/sim-fail": "true"}
    await raw.request("POST", DEPLOY_PATH, failing)
    body = await _status_when(raw, DEPLOY_PATH + "/bad", lambda s: bool(s.get("conditions")))
    assert not body["status"].get("readyReplicas")


async def test_status_agent_uses_given_functions_after_delay() -> None:
    calls: list[bool] = []

    def status_fn(obj: Mapping[str, Any], failing: bool) -> dict[str, Any]:
        calls.append(failing)
        return {"observedGeneration": obj["metadata"]["generation"], "replicas": 42}

    def settled(obj: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
        return obj.get("status") == desired

    async with SimServer(1, status_delay=0.3, status_functions=(status_fn, settled)) as sim:
        api = sim.clusters["cluster-1"].state.api
        from fleet.sim.api import WriteOptions
        from fleet.sim.kinds import BUILTIN_BY_GVR

        rt = BUILTIN_BY_GVR[("apps", "v1", "deployments")]
        api.create(rt, "default", deployment("web"), WriteOptions(manager="test"))
        await asyncio.sleep(0.1)
        assert api.get(rt, "default", "web")["status"] == {}
        await asyncio.sleep(0.4)
        assert api.get(rt, "default", "web")["status"]["replicas"] == 42
        assert calls == [False]
