"""ignoreDifferences by managedFieldsManagers reads the live objects' managedFields, which the
shared watch caches drop to save memory: such an Application keeps reading whole objects."""

from __future__ import annotations

import anyio
import pytest

from fleet.kube import request_json
from tests.controllers.harness import Scenario, synced_and_healthy

pytestmark = pytest.mark.anyio


async def test_a_field_owned_by_an_ignored_manager_is_left_alone_while_other_drift_is_healed(
    sim_scenario: Scenario,
) -> None:
    scenario = sim_scenario
    member = scenario.member(0)
    await scenario.register(member)
    appset = scenario.appset()
    appset["spec"]["template"]["spec"]["ignoreDifferences"] = [
        {"kind": "ConfigMap", "managedFieldsManagers": ["kubectl-edit"]}
    ]
    api = scenario.members[member.name]
    base = f"/namespaces/{scenario.app_namespace}"
    async with scenario.controller():
        await scenario.apply_appset(appset)
        await scenario.wait_apps(
            lambda apps: len(apps) == 2 and all(synced_and_healthy(a) for a in apps.values())
        )
        await request_json(
            api,
            "PATCH",
            f"/api/v1{base}/configmaps/web-config",
            body={"data": {"color": "edited"}},
            query={"fieldManager": "kubectl-edit"},
            content_type="application/merge-patch+json",
        )
        await request_json(
            api,
            "PATCH",
            f"/apis/apps/v1{base}/deployments/web",
            body={"spec": {"replicas": 3}},
            query={"fieldManager": "kubectl-edit"},
            content_type="application/merge-patch+json",
        )
        await scenario.wait_member(  # drift the rule does not cover: healed
            member,
            "apis/apps/v1/deployments",
            "web",
            lambda obj: obj is not None and obj["spec"]["replicas"] == 1,
            timeout=30,
        )
        await anyio.sleep(1.0)
        live = await scenario.member_object(member, "api/v1/configmaps", "web-config")
    assert live is not None and live["data"] == {"color": "edited"}
