"""Helm sources: a chart committed to the repository, rendered with Argo CD's helm options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleet.render import RenderError, RenderTools, render
from fleet.render.helm import helm_arguments
from tests.render.conftest import WriteTree

pytestmark = pytest.mark.anyio

CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    "chart/values.yaml": 'color: blue\nsize: small\nreplicas: 1\ntag: "1"\n',
    "chart/values-prod.yaml": "size: large\n",
    "chart/crds/widget.yaml": (
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata:\n  name: widgets.example.com\n"
        "spec:\n  group: example.com\n  scope: Namespaced\n"
        "  names: {plural: widgets, singular: widget, kind: Widget}\n"
        "  versions:\n  - name: v1\n    served: true\n    storage: true\n"
        "    schema:\n      openAPIV3Schema: {type: object}\n"
    ),
    "chart/templates/cm.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\n"
        "  namespace: {{ .Release.Namespace }}\n"
        "data:\n  color: {{ .Values.color | quote }}\n  size: {{ .Values.size | quote }}\n"
        "  replicas: {{ .Values.replicas | quote }}\n  tag: {{ .Values.tag | quote }}\n"
        "  {{- with .Values.extra }}\n  extra: {{ . | quote }}\n  {{- end }}\n"
    ),
}


async def _render(root: Path, tools: RenderTools, **source: Any) -> list[dict[str, Any]]:
    return await render(source, root, app_name="myapp", namespace="ns1", tools=tools)


def _config(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (config,) = [obj for obj in objects if obj["kind"] == "ConfigMap"]
    return config


async def test_release_defaults_to_app_name_and_namespace_is_passed(
    write_tree: WriteTree, helm_tools: RenderTools
) -> None:
    config = _config(await _render(write_tree(CHART), helm_tools, path="chart"))
    assert config["metadata"] == {"name": "myapp-cfg", "namespace": "ns1"}
    assert config["data"]["color"] == "blue"


async def test_crds_are_included_by_default(write_tree: WriteTree, helm_tools: RenderTools) -> None:
    objects = await _render(write_tree(CHART), helm_tools, path="chart")
    assert "CustomResourceDefinition" in [obj["kind"] for obj in objects]


async def test_skip_crds_leaves_them_out(write_tree: WriteTree, helm_tools: RenderTools) -> None:
    objects = await _render(write_tree(CHART), helm_tools, path="chart", helm={"skipCrds": True})
    assert [obj["kind"] for obj in objects] == ["ConfigMap"]


async def test_release_name_value_files_values_and_parameters(
    write_tree: WriteTree, helm_tools: RenderTools
) -> None:
    helm = {
        "releaseName": "rel",
        "valueFiles": ["values-prod.yaml"],
        "values": "color: green\nextra: inline\n",
        "parameters": [
            {"name": "replicas", "value": "3"},
            {"name": "tag", "value": "007", "forceString": True},
        ],
    }
    config = _config(await _render(write_tree(CHART), helm_tools, path="chart", helm=helm))
    assert config["metadata"]["name"] == "rel-cfg"
    assert config["data"] == {
        "color": "green",
        "size": "large",
        "replicas": "3",
        "tag": "007",
        "extra": "inline",
    }


async def test_values_object_wins_over_values(
    write_tree: WriteTree, helm_tools: RenderTools
) -> None:
    helm = {"values": "color: green\n", "valuesObject": {"color": "red"}}
    config = _config(await _render(write_tree(CHART), helm_tools, path="chart", helm=helm))
    assert config["data"]["color"] == "red"


async def test_file_parameter_reads_a_repository_file(
    write_tree: WriteTree, helm_tools: RenderTools
) -> None:
    root = write_tree({**CHART, "chart/extra.txt": "from-file"})
    helm = {"fileParameters": [{"name": "extra", "path": "extra.txt"}]}
    config = _config(await _render(root, helm_tools, path="chart", helm=helm))
    assert config["data"]["extra"] == "from-file"


async def test_template_error_is_render_failed(
    write_tree: WriteTree, helm_tools: RenderTools
) -> None:
    root = write_tree({**CHART, "chart/templates/bad.yaml": "{{ .Values.nope.deeper }}\n"})
    with pytest.raises(RenderError) as caught:
        await _render(root, helm_tools, path="chart")
    assert caught.value.reason == "RenderFailed" and "bad.yaml" in caught.value.message


def test_value_file_outside_the_repository_is_refused(
    write_tree: WriteTree, tmp_path: Path
) -> None:
    (tmp_path / "outside.yaml").write_text("color: stolen\n")
    root = write_tree(CHART)
    with pytest.raises(RenderError, match="resolves outside the repository"):
        helm_arguments(
            root,
            root / "chart",
            {"valueFiles": ["../../outside.yaml"]},
            app_name="a",
            namespace="n",
            values_file=root / "v.yaml",
        )


def test_missing_value_file_is_skipped_when_asked(write_tree: WriteTree) -> None:
    root = write_tree(CHART)
    options = {"valueFiles": ["nope.yaml"], "ignoreMissingValueFiles": True}
    args = helm_arguments(
        root, root / "chart", options, app_name="a", namespace="n", values_file=root / "v.yaml"
    )
    assert "--values" not in args and args[-1] == "--include-crds"


async def test_chart_from_a_helm_repository_is_unsupported(write_tree: WriteTree) -> None:
    root = write_tree(CHART)
    with pytest.raises(RenderError) as caught:
        await render(
            {"repoURL": "https://charts.example.com", "chart": "x", "targetRevision": "1.0.0"},
            root,
            app_name="a",
            namespace="n",
            tools=RenderTools(),
        )
    assert caught.value.reason == "Unsupported"
