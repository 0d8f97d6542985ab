"""Choosing the renderer from the source and the path's files, as Argo CD does."""

from __future__ import annotations

from fleet.render import source_type
from tests.render.conftest import WriteTree

CHART = "apiVersion: v2\nname: x\nversion: 1.0.0\n"


def test_chart_yaml_means_helm(write_tree: WriteTree) -> None:
    root = write_tree({"app/Chart.yaml": CHART})
    assert source_type({"path": "app"}, root / "app") == "Helm"


def test_kustomization_beats_chart_yaml(write_tree: WriteTree) -> None:
    root = write_tree({"app/Chart.yaml": CHART, "app/Kustomization": "resources: []\n"})
    assert source_type({"path": "app"}, root / "app") == "Kustomize"


def test_helm_repository_chart_means_helm() -> None:
    assert source_type({"chart": "nginx", "repoURL": "https://charts.example.com"}, None) == "Helm"


def test_plain_directory_by_default(write_tree: WriteTree) -> None:
    root = write_tree({"app/a.yaml": ""})
    assert source_type({"path": "app"}, root / "app") == "Directory"
