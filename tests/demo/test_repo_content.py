"""The demo's config repository renders, overlay by overlay, and its ApplicationSet expands
to one Application per (cluster, app) pointing at the cluster's environment overlay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet.appset_render import render_applications
from fleet.demo import repo_content
from fleet.demo.scenario import MEMBERS
from fleet.render import RenderTools, render

REPO_URL = "http://127.0.0.1:1/config.git"


def _write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


async def _render(root: Path, path: str, tools: RenderTools) -> dict[str, dict[str, Any]]:
    objects = await render(
        {"repoURL": REPO_URL, "path": path}, root, app_name="demo", namespace="demo", tools=tools
    )
    return {f"{obj['kind']}/{obj['metadata']['name']}": obj for obj in objects}


@pytest.mark.anyio
@pytest.mark.parametrize("env", repo_content.ENVIRONMENTS)
async def test_guestbook_overlay_sets_the_environments_replicas_and_message(
    tmp_path: Path, kustomize_tools: RenderTools, env: str
) -> None:
    root = _write(tmp_path, repo_content.initial_files(REPO_URL))
    objects = await _render(root, f"apps/guestbook/overlays/{env}", kustomize_tools)
    assert sorted(objects) == [
        "ConfigMap/guestbook-config",
        "Deployment/guestbook",
        "Service/guestbook",
    ]
    assert objects["Deployment/guestbook"]["spec"]["replicas"] == repo_content.REPLICAS[env]
    data = objects["ConfigMap/guestbook-config"]["data"]
    assert data == {"MESSAGE": repo_content.MESSAGES[env], "COLOR": "blue"}


@pytest.mark.anyio
async def test_rollout_commit_changes_only_production_replicas_and_message(
    tmp_path: Path, kustomize_tools: RenderTools
) -> None:
    files = {**repo_content.initial_files(REPO_URL), **repo_content.rollout_files()}
    root = _write(tmp_path, files)
    production = await _render(root, "apps/guestbook/overlays/production", kustomize_tools)
    staging = await _render(root, "apps/guestbook/overlays/staging", kustomize_tools)
    assert production["Deployment/guestbook"]["spec"]["replicas"] == repo_content.ROLLOUT_REPLICAS
    assert production["ConfigMap/guestbook-config"]["data"]["MESSAGE"] == (
        repo_content.ROLLOUT_MESSAGE
    )
    assert staging["Deployment/guestbook"]["spec"]["replicas"] == repo_content.REPLICAS["staging"]


@pytest.mark.anyio
@pytest.mark.parametrize("env", repo_content.ENVIRONMENTS)
async def test_plain_yaml_apps_render_as_directories(tmp_path: Path, env: str) -> None:
    root = _write(tmp_path, repo_content.initial_files(REPO_URL))
    redis = await _render(root, f"apps/redis/overlays/{env}", RenderTools())
    motd = await _render(root, f"apps/motd/overlays/{env}", RenderTools())
    assert sorted(redis) == ["Deployment/redis", "Service/redis"]
    assert sorted(motd) == ["ConfigMap/motd"]
    assert env in motd["ConfigMap/motd"]["data"]["motd"]


def test_appset_makes_one_application_per_cluster_and_app(tmp_path: Path) -> None:
    repo = _write(tmp_path / "repo", repo_content.initial_files(REPO_URL))
    clusters = tmp_path / "clusters.yaml"
    clusters.write_text(
        yaml.safe_dump(
            [
                {"name": m.name, "server": f"https://sim/clusters/{m.name}", "labels": m.labels}
                for m in MEMBERS
            ]
        )
    )
    applications, warnings = render_applications(
        str(repo / repo_content.APPSET_PATH),
        clusters_path=str(clusters),
        repos={REPO_URL: str(repo)},
        in_cluster=False,
    )
    assert warnings == []
    by_name = {app["metadata"]["name"]: app for app in applications}
    assert sorted(by_name) == sorted(
        f"{app}-{m.name}" for app in repo_content.APPS for m in MEMBERS
    )
    prod = by_name["guestbook-prod-us"]["spec"]
    assert prod["source"]["path"] == "apps/guestbook/overlays/production"
    assert prod["destination"] == {
        "server": "https://sim/clusters/prod-us",
        "namespace": "guestbook",
    }
    assert prod["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    staging = by_name["redis-staging-eu"]["spec"]["source"]["path"]
    assert staging == "apps/redis/overlays/staging"


def test_every_overlay_the_appset_can_name_exists() -> None:
    files = repo_content.initial_files(REPO_URL)
    for app in repo_content.APPS:
        for env in {m.labels["env"] for m in MEMBERS}:
            prefix = f"apps/{app}/overlays/{env}/"
            assert any(path.startswith(prefix) for path in files), prefix
