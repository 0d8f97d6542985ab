"""Argo CD's ApplicationSet documentation examples rendered by fleet, compared with Argo CD's.

Each case under fixtures/argocd_docs holds the ApplicationSet from the docs, the clusters and
repository files it reads, and the Applications Argo CD generates (see each case's README). The
repositories are made into real git repositories for the test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet.appset_render import InputError, render_applications
from tests.conftest import MakeRepo

CASES = Path(__file__).parent / "fixtures" / "argocd_docs"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if (p / "appset.yaml").exists())


def _generator_kinds(node: Any) -> set[str]:
    kinds: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"clusters", "merge"} and isinstance(value, dict):
                kinds.add(key)
            kinds |= _generator_kinds(value)
    elif isinstance(node, list):
        for item in node:
            kinds |= _generator_kinds(item)
    return kinds


def _render(case: Path, make_repo: MakeRepo) -> list[dict[str, Any]]:
    repos: dict[str, str] = {}
    mapping_file = case / "repos" / "repos.yaml"
    if mapping_file.exists():
        for url, folder in yaml.safe_load(mapping_file.read_text()).items():
            repos[url] = str(make_repo(source=case / "repos" / folder))
    clusters = case / "clusters.yaml"
    applications, _ = render_applications(
        str(case / "appset.yaml"),
        clusters_path=str(clusters) if clusters.exists() else None,
        repos=repos,
    )
    return applications


@pytest.mark.parametrize("name", CASE_NAMES)
def test_documented_example_renders_as_argo_cd_does(name: str, make_repo: MakeRepo) -> None:
    case = CASES / name
    error_file = case / "expected_error.txt"
    if error_file.exists():
        with pytest.raises(InputError, match=error_file.read_text().strip()):
            _render(case, make_repo)
        return
    expected = yaml.safe_load((case / "expected.yaml").read_text()) or []
    actual = _render(case, make_repo)
    appset = yaml.safe_load((case / "appset.yaml").read_text())
    if _generator_kinds(appset["spec"]["generators"]):
        # Argo CD lists cluster Secrets and merge results from Go maps: their order is not defined.
        expected = sorted(expected, key=lambda app: app["metadata"]["name"])
        actual = sorted(actual, key=lambda app: app["metadata"]["name"])
    assert actual == expected
