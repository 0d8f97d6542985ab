"""Running the render binaries: missing tools, timeouts, output caps and a bare environment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fleet.render import RenderError, RenderTools, render
from tests.render.conftest import WriteTree

pytestmark = pytest.mark.anyio

CHART = {"chart/Chart.yaml": "apiVersion: v2\nname: demo\nversion: 0.1.0\n"}
KUSTOMIZATION = {"k/kustomization.yaml": "resources: []\n"}
FakeTool = Callable[[str, str], Path]


async def test_missing_helm_is_tool_missing(write_tree: WriteTree, no_tools: RenderTools) -> None:
    with pytest.raises(RenderError) as caught:
        await render(
            {"path": "chart"}, write_tree(CHART), app_name="a", namespace="n", tools=no_tools
        )
    assert caught.value.reason == "ToolMissing" and "helm" in caught.value.message


async def test_missing_kustomize_and_kubectl_is_tool_missing(
    write_tree: WriteTree, no_tools: RenderTools
) -> None:
    root = write_tree(KUSTOMIZATION)
    with pytest.raises(RenderError) as caught:
        await render({"path": "k"}, root, app_name="a", namespace="n", tools=no_tools)
    assert caught.value.reason == "ToolMissing"


def test_discovery_prefers_the_bin_dir_over_path(fake_tool: FakeTool) -> None:
    helm = fake_tool("helm", "exit 0\n")
    tools = RenderTools.discover(helm.parent, path="/usr/bin:/bin")
    assert tools.helm == helm.resolve()


async def test_render_that_hangs_times_out(write_tree: WriteTree, fake_tool: FakeTool) -> None:
    tools = RenderTools(kustomize=fake_tool("kustomize", "exec sleep 30\n"), timeout=0.5)
    with pytest.raises(RenderError) as caught:
        await render(
            {"path": "k"}, write_tree(KUSTOMIZATION), app_name="a", namespace="n", tools=tools
        )
    assert caught.value.reason == "Timeout"


async def test_output_over_the_cap_is_too_large(write_tree: WriteTree, fake_tool: FakeTool) -> None:
    script = "head -c 1000000 /dev/zero\n"
    tools = RenderTools(kustomize=fake_tool("kustomize", script), output_limit=10_000)
    with pytest.raises(RenderError) as caught:
        await render(
            {"path": "k"}, write_tree(KUSTOMIZATION), app_name="a", namespace="n", tools=tools
        )
    assert caught.value.reason == "TooLarge"


async def test_tool_sees_no_inherited_environment(
    write_tree: WriteTree, fake_tool: FakeTool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_TOKEN", "hunter2")
    script = (
        "printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: env\\n"
        'data:\\n  home: "%s"\\n  secret: "%s"\\n\' "$HOME" "$SECRET_TOKEN"\n'
    )
    tools = RenderTools(kustomize=fake_tool("kustomize", script))
    (config,) = await render(
        {"path": "k"}, write_tree(KUSTOMIZATION), app_name="a", namespace="n", tools=tools
    )
    assert config["data"]["secret"] == ""
    assert config["data"]["home"].startswith("/") and "fleet-kustomize-" in config["data"]["home"]


async def test_non_object_tool_output_is_invalid_manifest(
    write_tree: WriteTree, fake_tool: FakeTool
) -> None:
    tools = RenderTools(kustomize=fake_tool("kustomize", "echo 'just: data'\n"))
    with pytest.raises(RenderError) as caught:
        await render(
            {"path": "k"}, write_tree(KUSTOMIZATION), app_name="a", namespace="n", tools=tools
        )
    assert caught.value.reason == "InvalidManifest" and "kustomize build k" in caught.value.message
