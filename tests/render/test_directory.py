"""Plain directory sources, with Argo CD's directory rules."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from fleet.render import RenderError, RenderTools, render
from tests.render.conftest import WriteTree

pytestmark = pytest.mark.anyio

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


async def _render(root: Path, **source: Any) -> list[dict[str, Any]]:
    return await render(source, root, app_name="app", namespace="ns", tools=RenderTools())


def _names(objects: list[dict[str, Any]]) -> list[str]:
    return [obj["metadata"]["name"] for obj in objects]


async def test_multi_document_file_skips_empty_documents(write_tree: WriteTree) -> None:
    text = "---\n" + CM.format(name="a") + "---\n---\n" + CM.format(name="b")
    root = write_tree({"apps/all.yaml": text})
    assert _names(await _render(root, path="apps")) == ["a", "b"]


async def test_list_kind_is_expanded_into_items(write_tree: WriteTree) -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}\n"
        "- {apiVersion: v1, kind: Secret, metadata: {name: y}}\n"
    )
    root = write_tree({"list.yaml": text})
    assert _names(await _render(root, path=".")) == ["x", "y"]


async def test_json_manifest_is_read(write_tree: WriteTree) -> None:
    root = write_tree(
        {"cm.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}'}
    )
    assert _names(await _render(root, path="")) == ["j"]


async def test_files_without_manifest_suffix_are_ignored(write_tree: WriteTree) -> None:
    root = write_tree({"a.yaml": CM.format(name="a"), "README.md": "# no", "b.txt": "x: 1"})
    assert _names(await _render(root, path=".")) == ["a"]


async def test_subdirectories_are_ignored_without_recurse(write_tree: WriteTree) -> None:
    root = write_tree({"a.yaml": CM.format(name="a"), "sub/b.yaml": CM.format(name="b")})
    assert _names(await _render(root, path=".")) == ["a"]


async def test_recurse_reads_subdirectories_in_path_order(write_tree: WriteTree) -> None:
    root = write_tree(
        {
            "z.yaml": CM.format(name="z"),
            "sub/b.yaml": CM.format(name="b"),
            "a/c.yml": CM.format(name="c"),
        }
    )
    objects = await _render(root, path=".", directory={"recurse": True})
    assert _names(objects) == ["z", "c", "b"]


async def test_include_brace_set_selects_files(write_tree: WriteTree) -> None:
    root = write_tree(
        {
            "one.yaml": CM.format(name="one"),
            "two.yaml": CM.format(name="two"),
            "x.yaml": CM.format(name="x"),
        }
    )
    objects = await _render(root, path=".", directory={"include": "{one,two}.yaml"})
    assert _names(objects) == ["one", "two"]


async def test_include_star_matches_across_directories(write_tree: WriteTree) -> None:
    root = write_tree({"sub/deep/a.yaml": CM.format(name="a"), "b.json": "{}"})
    objects = await _render(root, path=".", directory={"recurse": True, "include": "*.yaml"})
    assert _names(objects) == ["a"]


async def test_exclude_removes_matching_files(write_tree: WriteTree) -> None:
    root = write_tree({"a.yaml": CM.format(name="a"), "secret-b.yaml": CM.format(name="b")})
    objects = await _render(root, path=".", directory={"exclude": "secret-*"})
    assert _names(objects) == ["a"]


async def test_manifest_without_name_is_an_error_naming_the_file(write_tree: WriteTree) -> None:
    root = write_tree(
        {"apps/ok.yaml": CM.format(name="a"), "apps/bad.yaml": "apiVersion: v1\nkind: ConfigMap\n"}
    )
    with pytest.raises(RenderError) as caught:
        await _render(root, path="apps")
    assert caught.value.reason == "InvalidManifest"
    assert "apps/bad.yaml" in caught.value.message and "metadata.name" in caught.value.message


async def test_yaml_that_is_not_an_object_is_an_error_naming_the_file(
    write_tree: WriteTree,
) -> None:
    root = write_tree({"values.yaml": "replicas: 3\n"})
    with pytest.raises(RenderError, match=r"values.yaml: not a Kubernetes object"):
        await _render(root, path=".")


async def test_malformed_yaml_reports_file_and_line(write_tree: WriteTree) -> None:
    root = write_tree({"broken.yaml": "a: [1\n"})
    with pytest.raises(RenderError, match=r"broken.yaml: line \d+"):
        await _render(root, path=".")


async def test_symlink_escaping_the_repository_is_refused(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(CM.format(name="stolen"))
    root = write_tree({"a.yaml": CM.format(name="a")})
    os.symlink(outside, root / "link.yaml")
    with pytest.raises(RenderError) as caught:
        await _render(root, path=".")
    assert caught.value.reason == "InvalidSource" and "link.yaml" in caught.value.message


async def test_symlink_inside_the_repository_is_followed(write_tree: WriteTree) -> None:
    root = write_tree(
        {"shared/cm.yaml": CM.format(name="shared"), "app/a.yaml": CM.format(name="a")}
    )
    os.symlink("../shared/cm.yaml", root / "app" / "link.yaml")
    assert _names(await _render(root, path="app")) == ["a", "shared"]


async def test_path_leaving_the_repository_is_refused(write_tree: WriteTree) -> None:
    root = write_tree({"a.yaml": CM.format(name="a")})
    with pytest.raises(RenderError, match="leaves the repository"):
        await _render(root, path="../")


async def test_missing_path_is_an_error(write_tree: WriteTree) -> None:
    root = write_tree({"a.yaml": CM.format(name="a")})
    with pytest.raises(RenderError, match="does not exist"):
        await _render(root, path="nope")


async def test_explicit_directory_wins_over_chart_yaml(write_tree: WriteTree) -> None:
    root = write_tree(
        {"Chart.yaml": "apiVersion: v2\nname: x\nversion: 1.0.0\n", "a.yaml": CM.format(name="a")}
    )
    # Chart.yaml is not a Kubernetes object, so include only a.yaml.
    objects = await _render(root, path=".", directory={"include": "a.yaml"})
    assert _names(objects) == ["a"]


async def test_two_explicit_source_types_are_refused(write_tree: WriteTree) -> None:
    root = write_tree({"a.yaml": CM.format(name="a")})
    with pytest.raises(RenderError, match="multiple application sources defined"):
        await _render(root, path=".", helm={"releaseName": "x"}, kustomize={"namePrefix": "y"})
