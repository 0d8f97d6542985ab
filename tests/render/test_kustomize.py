"""Kustomize sources: a base and an overlay, with Argo CD's spec.source.kustomize options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleet.render import RenderError, RenderTools, render
from tests.render.conftest import WriteTree

pytestmark = pytest.mark.anyio

BASE = {
    "base/kustomization.yaml": "resources:\n- deployment.yaml\n",
    "base/deployment.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
        "spec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n"
        "  template:\n    metadata:\n      labels: {app: web}\n"
        "    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n"
    ),
    "overlay/kustomization.yaml": "resources:\n- ../base\nnamePrefix: prod-\n",
}


def _deployment(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = [obj for obj in objects if obj["kind"] == "Deployment"]
    return deployment


async def _render(root: Path, tools: RenderTools, **source: Any) -> list[dict[str, Any]]:
    return await render(source, root, app_name="app", namespace="ns", tools=tools)


async def test_overlay_is_built_from_its_kustomization(
    write_tree: WriteTree, kustomize_tools: RenderTools
) -> None:
    objects = await _render(write_tree(BASE), kustomize_tools, path="overlay")
    assert _deployment(objects)["metadata"]["name"] == "prod-web"


async def test_source_options_are_applied_with_kustomize_edit(
    write_tree: WriteTree, kustomize_tools: RenderTools
) -> None:
    options = {
        "namePrefix": "eu-",
        "images": ["nginx=registry.example.com/nginx:1.27"],
        "commonLabels": {"team": "payments"},
        "replicas": [{"name": "web", "count": 3}],
    }
    objects = await _render(write_tree(BASE), kustomize_tools, path="overlay", kustomize=options)
    deployment = _deployment(objects)
    # `kustomize edit set nameprefix` replaces the overlay's own prefix, as in Argo CD.
    assert deployment["metadata"]["name"] == "eu-web"
    assert deployment["metadata"]["labels"]["team"] == "payments"
    assert deployment["spec"]["replicas"] == 3
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.example.com/nginx:1.27"


async def test_edits_leave_the_repository_content_untouched(
    write_tree: WriteTree, kustomize_tools: RenderTools
) -> None:
    root = write_tree(BASE)
    await _render(root, kustomize_tools, path="overlay", kustomize={"namePrefix": "x-"})
    assert (root / "overlay/kustomization.yaml").read_text() == BASE["overlay/kustomization.yaml"]


async def test_kustomize_namespace_option_sets_the_namespace(
    write_tree: WriteTree, kustomize_tools: RenderTools
) -> None:
    objects = await _render(
        write_tree(BASE), kustomize_tools, path="overlay", kustomize={"namespace": "team-a"}
    )
    assert _deployment(objects)["metadata"]["namespace"] == "team-a"


async def test_build_error_is_render_failed(
    write_tree: WriteTree, kustomize_tools: RenderTools
) -> None:
    root = write_tree({"k/kustomization.yaml": "resources:\n- missing.yaml\n"})
    with pytest.raises(RenderError) as caught:
        await _render(root, kustomize_tools, path="k")
    assert caught.value.reason == "RenderFailed" and "missing.yaml" in caught.value.message


async def test_kubectl_builds_when_kustomize_is_absent(
    write_tree: WriteTree, discovered_tools: RenderTools
) -> None:
    if discovered_tools.kubectl is None:
        pytest.skip("kubectl not installed")
    tools = RenderTools(kubectl=discovered_tools.kubectl)
    objects = await _render(write_tree(BASE), tools, path="overlay")
    assert _deployment(objects)["metadata"]["name"] == "prod-web"


async def test_options_without_kustomize_binary_are_tool_missing(write_tree: WriteTree) -> None:
    tools = RenderTools(kubectl=Path("/usr/bin/kubectl"))
    with pytest.raises(RenderError) as caught:
        await _render(write_tree(BASE), tools, path="overlay", kustomize={"namePrefix": "x-"})
    assert caught.value.reason == "ToolMissing"


async def test_escaping_symlink_anywhere_in_the_tree_is_refused(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    root = write_tree(BASE)
    (root / "base" / "leak.yaml").symlink_to(tmp_path)
    with pytest.raises(RenderError) as caught:
        await _render(root, RenderTools(), path="overlay")
    assert caught.value.reason == "InvalidSource" and "base/leak.yaml" in caught.value.message
