"""Shared pieces of the failure drills (also used by bench/drills_bench.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fleet.api.resources import CLUSTER
from fleet.kube import request_json
from tests.clusters.harness import Env, Member, simulated_env
from tests.controllers.harness import Scenario, condition, synced_and_healthy

Obj = dict[str, Any]

FLEET_SIZE = 20
APPS = ("web", "api")
"""The directories under apps/ of the scenario's config repo: one Application each per cluster."""
TRACKING_LABEL = "fleet.gitops.dev/app"
KINDS = ("api/v1/configmaps", "apis/apps/v1/deployments")
"""What the config repo deploys to the members."""


@asynccontextmanager
async def sim_env(
    directory: Path, members: int, *, prefix: str = "c", start: int = 0
) -> AsyncIterator[Env]:
    """A hub plus `members` simulated clusters, each listening on a port of its own (so a
    refused cluster refuses connections like a dead server)."""
    directory.mkdir(parents=True, exist_ok=True)
    names = [
        f"{prefix}{i:02}" if prefix == "c" else f"{prefix}{i}"
        for i in range(start, start + members)
    ]
    async with simulated_env(directory, names) as env:
        yield env


def app_names(members: Iterable[Member], apps: Iterable[str] = APPS) -> set[str]:
    return {f"{app}-{m.name}" for app in apps for m in members}


def all_converged(names: set[str], revision: str | None = None) -> Any:
    """A `wait_apps` predicate: the named Applications exist, Synced and Healthy."""

    def check(apps: Mapping[str, Obj]) -> bool:
        return names <= set(apps) and all(synced_and_healthy(apps[n], revision) for n in names)

    return check


def comparison_error(app: Mapping[str, Any]) -> str:
    return str(condition(app, "ComparisonError").get("message") or "")


async def cluster_status(scenario: Scenario, name: str) -> Obj:
    obj: Obj = await request_json(scenario.hub, "GET", CLUSTER.item(scenario.namespace, name))
    return obj


async def tracked_objects(scenario: Scenario, member: Member) -> dict[str, str]:
    """`kind/name` -> resourceVersion of every object the controller tracks on `member`."""
    out: dict[str, str] = {}
    for kind_path in KINDS:
        group_path, _, plural = kind_path.rpartition("/")
        listing = await request_json(
            scenario.members[member.name],
            "GET",
            f"/{group_path}/namespaces/{scenario.app_namespace}/{plural}",
            query={"labelSelector": TRACKING_LABEL},
        )
        for item in listing.get("items") or []:
            out[f"{plural}/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
    return out


async def labelled_names(
    scenario: Scenario, member: Member, app: str, plural: str = "configmaps"
) -> list[str]:
    """Names of the `plural` objects on `member` carrying `app`'s tracking label."""
    listing = await request_json(
        scenario.members[member.name],
        "GET",
        f"/api/v1/namespaces/{scenario.app_namespace}/{plural}",
        query={"labelSelector": f"{TRACKING_LABEL}={app}"},
    )
    return [i["metadata"]["name"] for i in listing.get("items") or []]
