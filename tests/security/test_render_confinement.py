"""One tenant reading another's repositories through a render (kustomize, helm, their git).

The attacker controls the content of a repository its Project allows and tries to make the
render read something else: fleet's own mirror of another team's repository, a directory on
the controller's disk, a plain-http URL, a repository the Project does not list.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from aiohttp import web

from fleet.controllers.desired import DesiredCache
from fleet.controllers.repos import RepoHub
from fleet.git.cache import RepoCache
from fleet.git.urls import cache_key
from fleet.render import RenderError, RenderReach, RenderTools, gitguard, render
from fleet.render.sandbox import landlock_abi
from fleet.render.tools import Confinement, run_tool
from tests.clusters.harness import simulated_env
from tests.controllers.harness import Scenario, condition, configmap
from tests.git.support import GitDaemon, Upstream
from tests.render.conftest import BIN_DIR

pytestmark = pytest.mark.anyio

SECRET = yaml.safe_dump(
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "team-b-credentials"},
        "stringData": {"password": "team-b-only"},
    }
)
APPS = "https://git.example.com/team-a/apps.git"
TEAM_A = RenderReach((APPS,))
needs_landlock = pytest.mark.skipif(landlock_abi() == 0, reason="no Landlock in this kernel")


def _tools(name: str) -> RenderTools:
    tools = RenderTools.discover(BIN_DIR)
    if getattr(tools, name) is None:
        if os.environ.get("FLEET_REQUIRE_RENDER_TOOLS") == "1":
            pytest.fail(f"{name} not found in {BIN_DIR}")
        pytest.skip(f"{name} not found in {BIN_DIR} (make render-binaries)")
    return tools


def _write(root: Path, files: Mapping[str, str]) -> Path:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def _mirror(tmp_path: Path) -> Path:
    """A bare repository where fleet keeps its mirrors: `<cache>/<hash>.git`, holding another
    team's Secret under `secret/`."""
    upstream = Upstream(tmp_path / "upstream" / "srv", "team-b")
    upstream.commit(
        {"secret/kustomization.yaml": "resources:\n- secret.yaml\n", "secret/secret.yaml": SECRET}
    )
    mirror = tmp_path / "cache" / f"{cache_key('https://git.example.com/team-b/private')}.git"
    mirror.parent.mkdir()
    subprocess.run(["git", "clone", "-q", "--mirror", str(upstream.bare), str(mirror)], check=True)
    return mirror


async def _kustomize(
    root: Path, path: str, reach: RenderReach = TEAM_A, **source: Any
) -> list[dict[str, Any]]:
    return await render(
        {"path": path, **source},
        root,
        app_name="thief",
        namespace="team-a",
        tools=_tools("kustomize"),
        reach=reach,
    )


# -- kustomize: static checks ---------------------------------------------------------------------


async def test_a_file_url_to_fleets_mirror_of_another_teams_repository_is_refused(
    tmp_path: Path,
) -> None:
    mirror = _mirror(tmp_path)
    entry = f"file://{mirror}//secret?ref=main"
    root = _write(tmp_path / "repo", {"steal/kustomization.yaml": f"resources:\n- {entry}\n"})
    with pytest.raises(RenderError) as caught:
        await _kustomize(root, "steal", reach=RenderReach(("*",)))  # even a Project allowing all
    assert caught.value.reason == "InvalidSource"
    assert "steal/kustomization.yaml: resources entry" in caught.value.message
    assert entry in caught.value.message and "file://" in caught.value.message


async def test_a_directory_base_outside_the_tree_is_refused(tmp_path: Path) -> None:
    outside = _write(
        tmp_path / "elsewhere",
        {"kustomization.yaml": "resources:\n- secret.yaml\n", "secret.yaml": SECRET},
    )
    root = _write(tmp_path / "repo" / "checkout", {"app/.keep": ""})
    base = os.path.relpath(outside, root / "app")
    (root / "app" / "kustomization.yaml").write_text(f"resources:\n- {base}\n")
    with pytest.raises(RenderError) as caught:
        await _kustomize(root, "app")
    assert caught.value.reason == "InvalidSource"
    assert f"app/kustomization.yaml: resources entry '{base}' resolves outside" in (
        caught.value.message
    )


async def test_a_base_of_a_base_that_leaves_the_tree_is_refused(tmp_path: Path) -> None:
    component = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
    _write(
        tmp_path / "elsewhere",
        {"kustomization.yaml": f"{component}resources:\n- secret.yaml\n", "secret.yaml": SECRET},
    )
    root = _write(
        tmp_path / "repo",
        {
            "overlay/kustomization.yaml": "resources:\n- ../base\n",
            "base/kustomization.yaml": "components:\n- ../../elsewhere\n",
        },
    )
    with pytest.raises(RenderError) as caught:
        await _kustomize(root, "overlay")
    assert "base/kustomization.yaml: components entry '../../elsewhere'" in caught.value.message


async def test_a_plain_http_resource_is_refused_and_never_fetched(tmp_path: Path) -> None:
    requests: list[str] = []

    async def serve(request: web.Request) -> web.Response:
        requests.append(request.path)
        return web.Response(text=SECRET)

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        entry = f"http://127.0.0.1:{port}/secret.yaml"
        root = _write(tmp_path / "repo", {"app/kustomization.yaml": f"resources:\n- {entry}\n"})
        with pytest.raises(RenderError) as caught:
            await _kustomize(root, "app", reach=RenderReach(("*",)))
    finally:
        await runner.cleanup()
    assert caught.value.reason == "InvalidSource" and "http://" in caught.value.message
    assert requests == []


async def test_a_remote_base_the_project_does_not_list_is_refused(tmp_path: Path) -> None:
    entry = "https://git.example.com/team-b/private//secret?ref=main"
    root = _write(tmp_path / "repo", {"app/kustomization.yaml": f"resources:\n- {entry}\n"})
    with pytest.raises(RenderError) as caught:
        await _kustomize(root, "app")
    assert caught.value.reason == "InvalidSource"
    assert "not permitted by the Project's sourceRepos" in caught.value.message


async def test_a_remote_base_the_project_allows_reaches_its_server(tmp_path: Path) -> None:
    """Allowed: the static check passes, the render's git is let through its guard, and the
    sandbox lets it connect to that port (the listener closes: the fetch then fails)."""
    accepted = anyio.Event()

    async def handle(stream: Any) -> None:
        accepted.set()
        await stream.aclose()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    entry = f"https://127.0.0.1:{port}/team-a/base.git//app?ref=main"
    root = _write(tmp_path / "repo", {"app/kustomization.yaml": f"resources:\n- {entry}\n"})
    reach = RenderReach((f"https://127.0.0.1:{port}/team-a/*",))
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        with pytest.raises(RenderError) as caught:
            await _kustomize(root, "app", reach=reach)
        tg.cancel_scope.cancel()
    assert accepted.is_set(), caught.value.message
    assert caught.value.reason == "RenderFailed"
    # kustomize ran the render's git (the guard let the URL through) and git reached the server.
    assert "bin/git fetch --depth=1 https://127.0.0.1" in caught.value.message
    assert "unable to access" in caught.value.message


# -- the sandbox and the render's git, with the static checks out of the way ----------------------


@needs_landlock
async def test_the_sandbox_keeps_a_tool_from_reading_the_mirrors(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path)
    tree = _write(tmp_path / "tree", {"ok.yaml": "inside"})
    tool = tmp_path / "bin" / "reader"
    tool.parent.mkdir()
    tool.write_text(f"#!/bin/sh\ncat ok.yaml && cat {mirror}/HEAD\n")
    tool.chmod(0o755)
    with pytest.raises(RenderError) as caught:
        await run_tool(tool, "reader", [], cwd=tree, tools=RenderTools())
    assert "Permission denied" in caught.value.message


@needs_landlock
async def test_the_sandbox_keeps_a_tool_off_the_network(tmp_path: Path) -> None:
    accepted = anyio.Event()

    async def handle(stream: Any) -> None:
        accepted.set()
        await stream.aclose()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    tool = tmp_path / "bin" / "caller"
    tool.parent.mkdir()
    script = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5)"
    tool.write_text(f'#!/bin/sh\nexec {sys.executable} -I -S -c "{script}"\n')
    tool.chmod(0o755)
    tree = _write(tmp_path / "tree", {"ok.yaml": ""})
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        with pytest.raises(RenderError) as caught:
            await run_tool(tool, "caller", [], cwd=tree, tools=RenderTools())
        tg.cancel_scope.cancel()
    assert "Permission denied" in caught.value.message and not accepted.is_set()


async def test_the_render_git_refuses_a_clone_of_the_mirror(tmp_path: Path) -> None:
    """Even if a tool reached git with a file:// URL no static check saw, git refuses it."""
    mirror = _mirror(tmp_path)
    tree = _write(tmp_path / "tree", {"ok.yaml": ""})
    tool = tmp_path / "bin" / "cloner"
    tool.parent.mkdir()
    tool.write_text(f"#!/bin/sh\nexec git clone -q file://{mirror} $HOME/stolen\n")
    tool.chmod(0o755)
    confine = Confinement(read=(tree,), source_repos=("*",))
    with pytest.raises(RenderError) as caught:
        await run_tool(tool, "cloner", [], cwd=tree, tools=RenderTools(), confine=confine)
    assert "git refused in a render" in caught.value.message
    assert "file:// is never fetched" in caught.value.message


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["remote", "add", "origin", "https://git.example.com/team-b/private.git"], "sourceRepos"),
        (["fetch", "/srv/cache/abc.git", "main"], "a local path is never fetched"),
        (["clone", "ext::sh -c id", "x"], "ext:// is never fetched"),
        (["-c", "core.sshCommand=id", "fetch", "origin"], "option -c is not allowed"),
    ],
)
def test_the_render_git_refuses_what_the_project_does_not_allow(argv: list[str], why: str) -> None:
    decision = gitguard.guard(argv, "/usr/bin/git", [APPS])
    assert isinstance(decision, str) and why in decision


def test_the_render_git_lets_an_allowed_repository_through() -> None:
    argv = ["remote", "add", "origin", APPS]
    assert gitguard.guard(argv, "/usr/bin/git", [APPS]) == ["/usr/bin/git", *argv]


# -- helm ----------------------------------------------------------------------------------------


async def test_a_chart_dependency_outside_the_tree_is_refused(tmp_path: Path) -> None:
    _write(
        tmp_path / "elsewhere",
        {"Chart.yaml": "apiVersion: v2\nname: loot\nversion: 0.1.0\n", "templates/s.yaml": SECRET},
    )
    chart = (
        "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n"
        "- name: loot\n  version: 0.1.0\n  repository: file://../../elsewhere\n"
    )
    root = _write(tmp_path / "repo", {"chart/Chart.yaml": chart})
    with pytest.raises(RenderError) as caught:
        await render(
            {"path": "chart"}, root, app_name="a", namespace="n", tools=_tools("helm"), reach=TEAM_A
        )
    assert caught.value.reason == "InvalidSource"
    assert "chart/Chart.yaml: dependencies[0].repository 'file://../../elsewhere'" in (
        caught.value.message
    )


@needs_landlock
async def test_a_chart_still_renders_inside_the_sandbox(tmp_path: Path) -> None:
    """helm under the sandbox (tree read-only, no network) renders a chart as before."""
    tools = _tools("helm")
    root = _write(
        tmp_path / "repo",
        {
            "chart/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n",
            "chart/templates/cm.yaml": configmap("from-chart", {"k": "v"}),
        },
    )
    (config,) = await render(
        {"path": "chart"}, root, app_name="a", namespace="n", tools=tools, reach=TEAM_A
    )
    assert config["metadata"]["name"] == "from-chart"


async def test_applications_in_different_projects_never_share_a_render(tmp_path: Path) -> None:
    """The render cache keys on what the Project lets a render reach: a render one Project may
    make (a remote base it permits) is never served to an Application of another Project."""
    _tools("kustomize")
    served = tmp_path / "srv"
    served.mkdir()
    upstream = Upstream(served, "apps")
    upstream.commit({"app/kustomization.yaml": "resources:\n- cm.yaml\n", "app/cm.yaml": ""})
    upstream.commit({"app/cm.yaml": configmap("shared", {"k": "v"})})
    daemon = GitDaemon(served)
    daemon.start()
    try:
        async with RepoCache(tmp_path / "cache") as cache:
            repos, desired = RepoHub(cache), DesiredCache()

            def app(project: str) -> dict[str, Any]:
                source = {"repoURL": daemon.url("apps"), "path": "app", "targetRevision": "main"}
                return {"metadata": {"name": project}, "spec": {"source": source}}

            tools = _tools("kustomize")
            await desired.get(app("a"), repos, tools, reach=RenderReach(("*",)))
            await desired.get(app("b"), repos, tools, reach=TEAM_A)
            await desired.get(app("b2"), repos, tools, reach=TEAM_A)
    finally:
        daemon.stop()
    assert (desired.renders, desired.hits) == (2, 1)


# -- end to end: the Application controller on fleet.sim ------------------------------------------


@pytest.fixture
async def scenario(tmp_path: Path) -> AsyncIterator[Scenario]:
    async with (
        simulated_env(tmp_path, ["m1"]) as env,
        Scenario.open(env, tmp_path / "work") as opened,
    ):
        yield opened


async def test_an_application_cannot_deploy_another_teams_secret_from_fleets_mirror(
    scenario: Scenario,
) -> None:
    _tools("kustomize")
    member = scenario.member(0)
    await scenario.register(member)
    private = Upstream(scenario.git.base, "team-b")
    private.commit(
        {
            "public/cm.yaml": configmap("team-b-public", {"k": "v"}),
            "secret/kustomization.yaml": "resources:\n- secret.yaml\n",
            "secret/secret.yaml": SECRET,
        }
    )
    apps = Upstream(scenario.git.base, "apps")
    mirror = scenario.workdir / "controller-cache" / f"{cache_key(scenario.git.url('team-b'))}.git"
    entry = f"file://{mirror}//secret?ref=main"
    apps.commit({"steal/kustomization.yaml": f"resources:\n- {entry}\n"})
    await scenario.put_project(
        "team-a",
        {
            "sourceRepos": [scenario.git.url("apps")],
            "destinations": [{"name": "*", "namespace": "*"}],
        },
    )
    destination = {"name": member.name, "namespace": scenario.app_namespace}
    sync = {"automated": {}, "syncOptions": ["CreateNamespace=true"]}
    async with scenario.controller():
        # Team B's own Application makes fleet mirror team B's repository.
        await scenario.create_application(
            "team-b",
            {
                "project": "default",
                "source": {"repoURL": scenario.git.url("team-b"), "path": "public"},
                "destination": destination,
                "syncPolicy": sync,
            },
        )
        await scenario.wait_member(member, "api/v1/configmaps", "team-b-public", bool)
        assert mirror.is_dir()
        await scenario.create_application(
            "thief",
            {
                "project": "team-a",
                "source": {"repoURL": scenario.git.url("apps"), "path": "steal"},
                "destination": destination,
                "syncPolicy": sync,
            },
        )
        apps_now = await scenario.wait_apps(
            lambda found: condition(found.get("thief", {}), "ComparisonError") != {},
            what="ComparisonError on thief",
        )
    message = condition(apps_now["thief"], "ComparisonError")["message"]
    assert "steal/kustomization.yaml: resources entry" in message and entry in message
    assert await scenario.member_object(member, "api/v1/secrets", "team-b-credentials") is None
