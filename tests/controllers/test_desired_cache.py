"""DesiredCache: one render per (repository, commit, source), shared by Applications."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from fleet.controllers.desired import DesiredCache
from fleet.controllers.repos import RepoHub
from fleet.git.cache import RepoCache
from fleet.render import RenderTools
from tests.controllers.harness import RENDER_BIN, configmap
from tests.git.support import GitDaemon, Upstream

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def app(name: str, url: str, path: str, **source: object) -> dict[str, object]:
    return {
        "metadata": {"name": name, "namespace": "fleet-system"},
        "spec": {
            "source": {"repoURL": url, "path": path, "targetRevision": "main", **source},
            "destination": {"name": name, "namespace": "apps"},
        },
    }


CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    "chart/templates/cm.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
    ),
}


async def test_applications_with_the_same_source_share_one_render(tmp_path: Path) -> None:
    daemon = GitDaemon(tmp_path / "srv")
    (tmp_path / "srv").mkdir()
    daemon.start()
    try:
        upstream = Upstream(tmp_path / "srv", "config")
        upstream.commit({"apps/web/cm.yaml": configmap("web", {"a": "1"}), **CHART})
        url = daemon.url("config")
        cache = DesiredCache()
        async with RepoCache(tmp_path / "cache") as repos_cache:
            repos = RepoHub(repos_cache)
            tools = RenderTools.discover(RENDER_BIN)
            results = []

            async def one(name: str) -> None:
                results.append(await cache.get(app(name, url, "apps/web"), repos, tools))

            async with anyio.create_task_group() as tg:
                for i in range(20):
                    tg.start_soon(one, f"web-c{i}")
            assert cache.renders == 1
            assert all(r is results[0] for r in results)
            if tools.helm is None:
                pytest.skip("helm is not built: run `make render-binaries`")
            first = await cache.get(app("one", url, "chart"), repos, tools)
            second = await cache.get(app("two", url, "chart"), repos, tools)
    finally:
        daemon.stop()
    # Helm output names the release after the Application: never shared between Applications.
    assert cache.renders == 3
    assert first.manifests[0]["metadata"]["name"] == "one"
    assert second.manifests[0]["metadata"]["name"] == "two"
