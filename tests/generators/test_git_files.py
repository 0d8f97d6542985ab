"""The git files generator: parameter sets from JSON/YAML files in real git repositories."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from generators.base import Environment
from generators.errors import GitReadError, UnsafePathError
from generators.expand import expand, generate_applications
from generators.model import parse_application_set
from generators.repos import MAX_FILE_BYTES
from tests.conftest import MakeRepo, commit
from tests.generators.support import application_set, repo_environment

REPO_URL = "https://git.example/org/config"


def appset(
    files: list[dict[str, Any]],
    *,
    value: str = "{{path}}",
    name: str = "{{cluster.name}}",
    go_template: bool = False,
) -> Any:
    spec: dict[str, Any] = {
        "generators": [{"git": {"repoURL": REPO_URL, "revision": "main", "files": files}}],
        "template": {
            "metadata": {"name": name},
            "spec": {"project": "default", "source": {"path": value}},
        },
    }
    if go_template:
        spec["goTemplate"] = True
    return application_set(spec)


def env_for(repo: Path, **kwargs: Any) -> Environment:
    return repo_environment(REPO_URL, repo, **kwargs)


def values(repo: Path, pattern: str, value: str, **kwargs: Any) -> list[str]:
    apps = generate_applications(appset([{"path": pattern}], value=value, **kwargs), env_for(repo))
    return [app["spec"]["source"]["path"] for app in apps]


def config(name: str, extra: str = "") -> str:
    return f"cluster:\n  name: {name}\n{extra}"


def test_star_in_a_files_pattern_crosses_directories(make_repo: MakeRepo) -> None:
    repo = make_repo(
        {
            "clusters/a/config.yaml": config("a"),
            "clusters/b/deep/config.yaml": config("b"),
            "other/config.yaml": config("c"),
        }
    )
    assert values(repo, "clusters/*.yaml", "{{cluster.name}}") == ["a", "b"]


def test_files_are_sorted_by_path(make_repo: MakeRepo) -> None:
    repo = make_repo({"c/z.json": '{"cluster": {"name": "z"}}', "b/a.yaml": config("y")})
    assert values(repo, "*", "{{cluster.name}}") == ["y", "z"]


def test_nested_keys_are_flattened_with_dots(make_repo: MakeRepo) -> None:
    repo = make_repo({"c.yaml": config("a", "  labels:\n    tier: gold\n")})
    assert values(repo, "c.yaml", "{{cluster.labels.tier}}") == ["gold"]


def test_list_items_are_flattened_by_position(make_repo: MakeRepo) -> None:
    repo = make_repo({"c.yaml": config("a", "  zones: [x, y]\n")})
    assert values(repo, "c.yaml", "{{cluster.zones.0}}-{{cluster.zones.1}}") == ["x-y"]


@pytest.mark.parametrize(
    ("raw", "printed"),
    [("3", "3"), ("1000000", "1e+06"), ("2.5", "2.5"), ("true", "true"), ("false", "false")],
)
def test_scalars_are_printed_as_go_prints_them(make_repo: MakeRepo, raw: str, printed: str) -> None:
    repo = make_repo({"c.yaml": config("a", f"  n: {raw}\n")})
    assert values(repo, "c.yaml", "{{cluster.n}}") == [printed]


def test_a_file_holding_a_list_yields_one_set_per_element(make_repo: MakeRepo) -> None:
    repo = make_repo({"all.yaml": "- cluster: {name: one}\n- cluster: {name: two}\n"})
    assert values(repo, "all.yaml", "{{cluster.name}}") == ["one", "two"]


def test_path_is_the_files_directory(make_repo: MakeRepo) -> None:
    repo = make_repo({"envs/prod/east/config.yaml": config("a")})
    assert values(repo, "envs/**/config.yaml", "{{path}}") == ["envs/prod/east"]


def test_path_basename_is_the_directory_name(make_repo: MakeRepo) -> None:
    repo = make_repo({"envs/prod/east/config.yaml": config("a")})
    assert values(repo, "envs/*", "{{path.basename}}") == ["east"]


def test_path_filename_and_filename_normalized(make_repo: MakeRepo) -> None:
    repo = make_repo({"envs/East_Config.yaml": config("a")})
    value = "{{path.filename}}|{{path.filenameNormalized}}"
    assert values(repo, "envs/*", value) == ["East_Config.yaml|east-config.yaml"]


def test_path_segments_index_the_directory(make_repo: MakeRepo) -> None:
    repo = make_repo({"envs/prod/east/config.yaml": config("a")})
    assert values(repo, "envs/*", "{{path[0]}}/{{path[2]}}") == ["envs/east"]


def test_file_at_the_root_has_path_dot(make_repo: MakeRepo) -> None:
    repo = make_repo({"config.yaml": config("a")})
    assert values(repo, "config.yaml", "{{path}}") == ["."]


def test_json_files_are_read_too(make_repo: MakeRepo) -> None:
    repo = make_repo({"c.json": '{"cluster": {"name": "j", "replicas": 2}}'})
    assert values(repo, "*.json", "{{cluster.replicas}}") == ["2"]


def test_malformed_yaml_file_is_an_error_naming_the_file(make_repo: MakeRepo) -> None:
    repo = make_repo({"good.yaml": config("a"), "bad.yaml": "cluster: [oops\n"})
    with pytest.raises(GitReadError, match=r"unable to process file 'bad\.yaml': line"):
        values(repo, "*.yaml", "{{cluster.name}}")


def test_file_holding_a_scalar_is_an_error_naming_the_file(make_repo: MakeRepo) -> None:
    repo = make_repo({"bad.yaml": "just text\n"})
    with pytest.raises(GitReadError, match=r"unable to process file 'bad\.yaml'"):
        values(repo, "*.yaml", "{{cluster.name}}")


def test_pattern_matching_nothing_renders_nothing(make_repo: MakeRepo) -> None:
    repo = make_repo({"c.yaml": config("a")})
    assert values(repo, "missing/*.yaml", "{{path}}") == []


def test_symlink_out_of_a_git_repo_is_refused(make_repo: MakeRepo, tmp_path: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text(config("stolen"))
    repo = make_repo({"ok.yaml": config("a")})
    os.symlink("../secret.yaml", repo / "link.yaml")
    commit(repo, {})
    with pytest.raises(UnsafePathError):
        values(repo, "*.yaml", "{{cluster.name}}")


def test_symlink_out_of_a_plain_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.yaml").write_text(config("stolen"))
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "ok.yaml").write_text(config("a"))
    os.symlink(tmp_path / "secret.yaml", folder / "link.yaml")
    with pytest.raises(UnsafePathError):
        values(folder, "*.yaml", "{{cluster.name}}")


def test_symlink_inside_the_repo_is_followed(make_repo: MakeRepo) -> None:
    repo = make_repo({"real/c.yaml": config("a")})
    (repo / "alias").mkdir()
    os.symlink("../real/c.yaml", repo / "alias" / "c.yaml")
    commit(repo, {})
    assert values(repo, "alias/*", "{{cluster.name}}") == ["a"]


def test_file_over_the_size_limit_is_refused(make_repo: MakeRepo) -> None:
    big = "cluster: {name: big}\n" + "#" * MAX_FILE_BYTES + "\n"
    repo = make_repo({"big.yaml": big})
    with pytest.raises(GitReadError, match=r"big\.yaml: file is \d+ bytes, over the"):
        values(repo, "*.yaml", "{{cluster.name}}")


def test_unreadable_file_fails_the_generator_but_not_the_others(make_repo: MakeRepo) -> None:
    repo = make_repo({"bad.yaml": "cluster: [oops\n"})
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "demo"},
        "spec": {
            "generators": [
                {"git": {"repoURL": REPO_URL, "files": [{"path": "*.yaml"}]}},
                {"list": {"elements": [{"cluster.name": "listed"}]}},
            ],
            "template": {"metadata": {"name": "{{cluster.name}}"}, "spec": {"project": "p"}},
        },
    }
    expansion = expand(parse_application_set(doc), env_for(repo))
    assert [app["metadata"]["name"] for app in expansion.applications] == ["listed"]
    assert not expansion.complete


def test_go_template_keeps_file_keys_nested(make_repo: MakeRepo) -> None:
    repo = make_repo({"envs/east/c.yaml": config("east")})
    value = "{{.cluster.name}}@{{.path.path}}/{{.path.filename}}"
    kwargs: dict[str, Any] = {"name": "{{.cluster.name}}", "go_template": True}
    assert values(repo, "envs/*", value, **kwargs) == ["east@envs/east/c.yaml"]


def test_file_refused_for_size_does_not_break_the_next_read(make_repo: MakeRepo) -> None:
    big = "cluster: {name: big}\n" + "#" * MAX_FILE_BYTES + "\n"
    repo = make_repo({"big/c.yaml": big, "small/c.yaml": config("small")})
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "demo"},
        "spec": {
            "generators": [
                {"git": {"repoURL": REPO_URL, "files": [{"path": "big/*"}]}},
                {"git": {"repoURL": REPO_URL, "files": [{"path": "small/*"}]}},
            ],
            "template": {"metadata": {"name": "{{cluster.name}}"}, "spec": {"project": "p"}},
        },
    }
    expansion = expand(parse_application_set(doc), env_for(repo))
    assert [app["metadata"]["name"] for app in expansion.applications] == ["small"]
    assert len(expansion.errors) == 1
