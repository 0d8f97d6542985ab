"""examples/: every ApplicationSet renders offline with `fleet appset render`, and is accepted
by the demo's hub as it is, where its Applications converge Synced and Healthy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml

from fleet.api.resources import APPLICATION, APPLICATION_SET
from fleet.appset_render import render_applications
from fleet.controllers.runtime import ControllerSettings
from fleet.demo import repo_content
from fleet.demo.run import render_tools
from fleet.demo.scenario import Scenario, scenario
from fleet.kube import request_json
from tests.controllers.harness import running_controller

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEMO_REPO = "http://127.0.0.1:8478/config.git"

EXPECTED = {
    "list-generator.yaml": {"motd-staging-eu-list", "motd-prod-us-list"},
    "cluster-generator.yaml": {"redis-prod-eu-clusters", "redis-prod-us-clusters"},
    "git-directories.yaml": {
        "guestbook-staging-git",
        "motd-staging-git",
        "redis-staging-git",
    },
    "matrix.yaml": {
        "motd-staging-eu-matrix",
        "redis-staging-eu-matrix",
        "motd-prod-eu-matrix",
        "redis-prod-eu-matrix",
    },
    "merge.yaml": {"motd-staging-eu-merged", "motd-prod-eu-merged", "motd-prod-us-merged"},
}
"""The Applications each example makes in the demo's world."""

HANG_GUARD = 120.0


def test_every_example_file_is_listed() -> None:
    found = {p.name for p in EXAMPLES.glob("*.yaml")} - {"clusters.yaml"}
    assert found == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_an_example_renders_offline(name: str, tmp_path: Path) -> None:
    repo = tmp_path / "demo-repo"
    for relative, text in repo_content.initial_files(DEMO_REPO).items():
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        (repo / relative).write_text(text)
    applications, _ = render_applications(
        str(EXAMPLES / name),
        clusters_path=str(EXAMPLES / "clusters.yaml"),
        repos={DEMO_REPO: str(repo)},
    )
    assert {a["metadata"]["name"] for a in applications} == EXPECTED[name]
    if name == "merge.yaml":
        paths = {a["metadata"]["name"]: a["spec"]["source"]["path"] for a in applications}
        assert paths["motd-prod-us-merged"] == "apps/motd/overlays/staging"
        assert paths["motd-prod-eu-merged"] == "apps/motd/overlays/production"


def _healthy(app: Mapping[str, Any]) -> bool:
    status = app.get("status") or {}
    return (status.get("sync") or {}).get("status") == "Synced" and (
        status.get("health") or {}
    ).get("status") == "Healthy"


@asynccontextmanager
async def demo_world(workdir: Path) -> AsyncIterator[Scenario]:
    """The demo's hub, members and repository, with the controller running."""
    async with scenario(workdir) as world:
        settings = ControllerSettings(
            cache_dir=workdir / "cache",
            namespace=world.namespace,
            listen_port=0,
            git_poll_interval=1.0,
            render_tools=render_tools(),
        )
        async with running_controller(world.hub, settings):
            yield world


@pytest.mark.anyio
async def test_every_example_converges_on_the_demo_hub(tmp_path: Path) -> None:
    async with demo_world(tmp_path / "demo") as world:
        for name in sorted(EXPECTED):
            text = (EXAMPLES / name).read_text()
            if world.repo_url != DEMO_REPO:  # port 8478 taken here: the demo says so too
                text = text.replace(DEMO_REPO, world.repo_url)
            await request_json(
                world.hub,
                "POST",
                APPLICATION_SET.collection(world.namespace),
                body=yaml.safe_load(text),
            )
        wanted = set().union(*EXPECTED.values())
        apps: dict[str, Any] = {}
        with anyio.fail_after(HANG_GUARD):  # hang guard, not a timing claim
            while not (wanted <= set(apps) and all(_healthy(apps[n]) for n in wanted)):
                await anyio.sleep(0.5)
                listing = await request_json(
                    world.hub, "GET", APPLICATION.collection(world.namespace)
                )
                apps = {i["metadata"]["name"]: i for i in listing.get("items") or []}
        for name in EXPECTED:
            appset = await request_json(
                world.hub,
                "GET",
                f"{APPLICATION_SET.collection(world.namespace)}/{name_of(name)}",
            )
            conditions = {
                c["type"]: c["status"] for c in (appset.get("status") or {}).get("conditions") or []
            }
            assert conditions.get("ErrorOccurred") == "False", (name, appset.get("status"))


def name_of(example: str) -> str:
    document = yaml.safe_load((EXAMPLES / example).read_text())
    return str(document["metadata"]["name"])
