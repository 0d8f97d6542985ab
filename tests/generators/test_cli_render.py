"""`fleet appset render`: Applications on stdout, or one error line on stderr and exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet.cli import main
from tests.conftest import MakeRepo

REPO_URL = "https://git.example/org/apps.git"
ROOT = Path(__file__).resolve().parents[2]


def appset_doc(generators: list[dict[str, Any]], name: str = "demo") -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "generators": generators,
            "template": {
                "metadata": {"name": "{{name}}"},
                "spec": {
                    "project": "default",
                    "source": {"repoURL": REPO_URL, "path": "{{path}}"},
                    "destination": {"name": "in-cluster", "namespace": "apps"},
                },
            },
        },
    }


LIST_APPSET = appset_doc([{"list": {"elements": [{"name": "a"}, {"name": "b"}]}}])


def write_yaml(path: Path, *documents: Any) -> str:
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["appset", "render", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_bad_input(result: tuple[int, str, str], *fragments: str) -> None:
    code, out, err = result
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("fleet: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_json_output_is_a_list_of_applications(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, write_yaml(tmp_path / "a.yaml", LIST_APPSET), "-o", "json")
    assert code == 0
    apps = json.loads(out)
    assert [app["metadata"]["name"] for app in apps] == ["a", "b"]
    assert apps[0]["kind"] == "Application"


def test_yaml_output_is_a_document_stream(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, write_yaml(tmp_path / "a.yaml", LIST_APPSET))
    assert code == 0
    assert out.startswith("---")
    assert out.count("---") == 2
    assert [app["metadata"]["name"] for app in yaml.safe_load_all(out)] == ["a", "b"]


def test_several_application_sets_in_one_file_render_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    second = appset_doc([{"list": {"elements": [{"name": "c"}]}}], name="other")
    _, out, _ = run(capsys, write_yaml(tmp_path / "a.yaml", LIST_APPSET, second), "-o", "json")
    assert [app["metadata"]["name"] for app in json.loads(out)] == ["a", "b", "c"]


def test_invalid_application_set_exits_2_naming_the_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = appset_doc([{"list": {"elements": [{"name": "a"}, "oops"]}}])
    path = write_yaml(tmp_path / "bad.yaml", bad)
    assert_bad_input(
        run(capsys, path),
        f"{path}: spec.generators[0].list.elements[1]: expected a mapping, got a string",
    )


def test_error_in_the_second_document_names_its_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = appset_doc([])
    path = write_yaml(tmp_path / "two.yaml", LIST_APPSET, bad)
    assert_bad_input(run(capsys, path), f"{path}[1]: spec.generators")


def test_partial_expansion_prints_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = appset_doc(
        [
            {"list": {"elements": [{"name": "good"}]}},
            {"list": {"elements": [{"name": "Bad_Name"}]}},
        ]
    )
    assert_bad_input(run(capsys, write_yaml(tmp_path / "a.yaml", doc)), "'Bad_Name'")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("project", "", "Application a: spec.project: required"),
        ("source", None, "Application a: spec.source: required object"),
        ("destination", None, "Application a: spec.destination: required object"),
        ("destination", {"namespace": "x"}, "exactly one of server or name is required"),
    ],
)
def test_an_application_the_hub_would_refuse_is_refused_with_the_controllers_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: Any, message: str
) -> None:
    doc = appset_doc([{"list": {"elements": [{"name": "a"}]}}])
    template_spec = doc["spec"]["template"]["spec"]
    if value is None:
        del template_spec[field]
    else:
        template_spec[field] = value
    assert_bad_input(run(capsys, write_yaml(tmp_path / "a.yaml", doc)), message)


def test_render_refusals_are_the_application_set_controllers_words() -> None:
    from fleet.api.application import generated_refusal

    app = {"metadata": {"name": "a"}, "spec": {"project": "default", "destination": {}}}
    assert generated_refusal(app) == "Application a: spec.source: required object"


def test_malformed_yaml_exits_2_naming_the_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("kind: ApplicationSet\nspec: [oops\n")
    assert_bad_input(run(capsys, str(path)), f"{path}: line ")


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "absent.yaml")
    assert_bad_input(run(capsys, path), path)


def test_empty_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert_bad_input(run(capsys, str(path)), "no ApplicationSet in the file")


def test_repo_option_maps_a_repo_url_to_a_local_git_repository(
    tmp_path: Path, make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo({"apps/web/f": "", "apps/api/f": ""})
    doc = appset_doc([{"git": {"repoURL": REPO_URL, "directories": [{"path": "apps/*"}]}}])
    doc["spec"]["template"]["metadata"]["name"] = "{{path.basename}}"
    path = write_yaml(tmp_path / "a.yaml", doc)
    code, out, _ = run(capsys, path, "--repo", f"{REPO_URL}={repo}", "-o", "json")
    assert code == 0
    assert [app["spec"]["source"]["path"] for app in json.loads(out)] == ["apps/api", "apps/web"]


def test_git_generator_without_repo_option_exits_2_telling_to_pass_repo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = appset_doc([{"git": {"repoURL": REPO_URL, "directories": [{"path": "*"}]}}])
    assert_bad_input(run(capsys, write_yaml(tmp_path / "a.yaml", doc)), f"--repo {REPO_URL}=DIR")


def test_repo_option_without_equals_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_yaml(tmp_path / "a.yaml", LIST_APPSET)
    assert_bad_input(run(capsys, path, "--repo", "just-a-url"), "expected URL=DIR")


def test_clusters_file_feeds_the_clusters_generator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clusters = write_yaml(
        tmp_path / "clusters.yaml",
        [{"name": "east", "server": "https://east", "labels": {"env": "prod"}}],
    )
    doc = appset_doc([{"clusters": {"selector": {"matchLabels": {"env": "prod"}}}}])
    path = write_yaml(tmp_path / "a.yaml", doc)
    code, out, _ = run(capsys, path, "--clusters", clusters, "-o", "json")
    assert code == 0
    assert [app["metadata"]["name"] for app in json.loads(out)] == ["east"]


def test_no_in_cluster_leaves_the_local_cluster_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_yaml(tmp_path / "a.yaml", appset_doc([{"clusters": {}}]))
    _, with_local, _ = run(capsys, path, "-o", "json")
    _, without_local, _ = run(capsys, path, "--no-in-cluster", "-o", "json")
    assert [app["metadata"]["name"] for app in json.loads(with_local)] == ["in-cluster"]
    assert json.loads(without_local) == []


def test_malformed_cluster_entry_is_named_by_index_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clusters = write_yaml(
        tmp_path / "clusters.yaml",
        [{"name": "east", "server": "https://east"}, {"name": "west", "server": 443}],
    )
    path = write_yaml(tmp_path / "a.yaml", appset_doc([{"clusters": {}}]))
    assert_bad_input(
        run(capsys, path, "--clusters", clusters),
        f"{clusters}[1].server: expected a string, got a number",
    )


def test_unknown_cluster_field_is_named_by_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clusters = write_yaml(tmp_path / "c.yaml", [{"name": "e", "server": "s", "label": {}}])
    path = write_yaml(tmp_path / "a.yaml", appset_doc([{"clusters": {}}]))
    assert_bad_input(run(capsys, path, "--clusters", clusters), f"{clusters}[0].label")


def test_duplicate_cluster_names_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clusters = write_yaml(
        tmp_path / "c.yaml", [{"name": "e", "server": "s1"}, {"name": "e", "server": "s2"}]
    )
    path = write_yaml(tmp_path / "a.yaml", appset_doc([{"clusters": {}}]))
    assert_bad_input(run(capsys, path, "--clusters", clusters), "cluster name 'e' is listed twice")


def test_fleet_executable_renders_and_fails_as_a_process(tmp_path: Path) -> None:
    fleet = Path(sys.executable).with_name("fleet")
    if not fleet.exists():
        fleet = ROOT / ".venv" / "bin" / "fleet"
    good = write_yaml(tmp_path / "good.yaml", LIST_APPSET)
    bad = write_yaml(tmp_path / "bad.yaml", appset_doc([]))
    ok = subprocess.run(
        [str(fleet), "appset", "render", good, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    failed = subprocess.run(
        [str(fleet), "appset", "render", bad],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0
    assert [app["metadata"]["name"] for app in json.loads(ok.stdout)] == ["a", "b"]
    assert failed.returncode == 2
    assert failed.stdout == ""
    assert failed.stderr.startswith(f"fleet: {bad}: spec.generators: ")
