"""The git directories generator, read from real git repositories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import git
import pytest

from generators.base import Environment
from generators.errors import GitReadError, InvalidApplicationSetError
from generators.expand import generate_applications
from tests.conftest import MakeRepo, commit
from tests.generators.support import application_set, repo_environment

REPO_URL = "https://git.example/org/apps.git"
LAYOUT = {
    "apps/web/kustomization.yaml": "",
    "apps/api/kustomization.yaml": "",
    "apps/api/overlays/prod/kustomization.yaml": "",
    "apps/My_Tool/kustomization.yaml": "",
    "infra/dns/kustomization.yaml": "",
    ".github/workflows/ci.yaml": "",
    "apps/.hidden/kustomization.yaml": "",
}


def appset(
    directories: list[dict[str, Any]],
    *,
    name: str = "{{path.basenameNormalized}}",
    value: str = "{{path}}",
    go_template: bool = False,
    **git_spec: Any,
) -> Any:
    spec: dict[str, Any] = {
        "generators": [
            {
                "git": {
                    "repoURL": REPO_URL,
                    "revision": "HEAD",
                    "directories": directories,
                    **git_spec,
                }
            }
        ],
        "template": {
            "metadata": {"name": name},
            "spec": {"project": "default", "source": {"repoURL": REPO_URL, "path": value}},
        },
    }
    if go_template:
        spec["goTemplate"] = True
    return application_set(spec)


def env_for(repo: Path, **kwargs: Any) -> Environment:
    return repo_environment(REPO_URL, repo, **kwargs)


def paths(repo: Path, directories: list[dict[str, Any]], **kwargs: Any) -> list[str]:
    apps = generate_applications(appset(directories, **kwargs), env_for(repo))
    return [app["spec"]["source"]["path"] for app in apps]


@pytest.fixture
def repo(make_repo: MakeRepo) -> Path:
    return make_repo(LAYOUT)


def test_star_matches_within_one_segment_only(repo: Path) -> None:
    assert paths(repo, [{"path": "apps/*"}]) == ["apps/My_Tool", "apps/api", "apps/web"]


def test_double_star_pattern_matches_exactly_two_levels_below(repo: Path) -> None:
    assert paths(repo, [{"path": "apps/*/*"}]) == ["apps/api/overlays"]


def test_literal_pattern_matches_one_directory(repo: Path) -> None:
    assert paths(repo, [{"path": "infra/dns"}]) == ["infra/dns"]


def test_several_include_patterns_keep_the_walk_order(repo: Path) -> None:
    assert paths(repo, [{"path": "infra/*"}, {"path": "apps/web"}]) == ["apps/web", "infra/dns"]


def test_git_directories_exclude_wins_over_include(repo: Path) -> None:
    directories = [{"path": "apps/*"}, {"path": "apps/api", "exclude": True}]
    assert paths(repo, directories) == ["apps/My_Tool", "apps/web"]


def test_git_directories_exclude_wins_even_when_listed_first(repo: Path) -> None:
    directories = [{"path": "apps/web", "exclude": True}, {"path": "apps/*"}]
    assert paths(repo, directories) == ["apps/My_Tool", "apps/api"]


def test_exclude_with_a_wildcard_removes_every_match(repo: Path) -> None:
    directories = [{"path": "*/*"}, {"path": "apps/*", "exclude": True}]
    assert paths(repo, directories) == ["infra/dns"]


def test_hidden_directories_are_never_listed(repo: Path) -> None:
    assert paths(repo, [{"path": "*"}]) == ["apps", "infra"]
    assert paths(repo, [{"path": "apps/*"}]) == ["apps/My_Tool", "apps/api", "apps/web"]


def test_pattern_naming_a_hidden_directory_matches_nothing(repo: Path) -> None:
    assert paths(repo, [{"path": ".github"}, {"path": "infra/dns"}]) == ["infra/dns"]


def test_path_basename_parameter(repo: Path) -> None:
    assert paths(repo, [{"path": "infra/*"}], value="{{path.basename}}") == ["dns"]


def test_path_basename_normalized_parameter(repo: Path) -> None:
    apps = generate_applications(appset([{"path": "apps/My_Tool"}]), env_for(repo))
    assert [app["metadata"]["name"] for app in apps] == ["my-tool"]


def test_path_segment_parameters_index_the_path(repo: Path) -> None:
    value = "{{path[0]}}|{{path[1]}}|{{path[2]}}|{{path[3]}}"
    assert paths(repo, [{"path": "apps/api/overlays/prod"}], value=value) == [
        "apps|api|overlays|prod"
    ]


def test_path_segment_beyond_the_depth_is_left_as_written(repo: Path) -> None:
    assert paths(repo, [{"path": "infra/dns"}], value="{{path[2]}}") == ["{{path[2]}}"]


def test_path_param_prefix_renames_the_path_parameters(repo: Path) -> None:
    value = "{{myapp.path}}:{{myapp.path.basename}}:{{myapp.path[0]}}"
    kwargs: dict[str, Any] = {"name": "{{myapp.path.basenameNormalized}}", "value": value}
    kwargs["pathParamPrefix"] = "myapp"
    assert paths(repo, [{"path": "infra/dns"}], **kwargs) == ["infra/dns:dns:infra"]


def test_path_param_prefix_leaves_no_unprefixed_path(repo: Path) -> None:
    kwargs: dict[str, Any] = {"name": "x", "value": "{{path}}", "pathParamPrefix": "myapp"}
    assert paths(repo, [{"path": "infra/dns"}], **kwargs) == ["{{path}}"]


def test_directories_are_walked_depth_first_in_name_order(make_repo: MakeRepo) -> None:
    repo = make_repo({"a/b/f": "", "a-c/f": "", "a/f": ""})
    assert paths(repo, [{"path": "*"}, {"path": "*/*"}]) == ["a", "a/b", "a-c"]


def test_values_are_templated_with_the_directory_parameters(repo: Path) -> None:
    kwargs: dict[str, Any] = {"value": "{{values.dir}}", "values": {"dir": "x/{{path.basename}}"}}
    assert paths(repo, [{"path": "infra/*"}], **kwargs) == ["x/dns"]


def test_commit_sha_parameter_is_the_resolved_commit(make_repo: MakeRepo) -> None:
    repo = make_repo({"infra/dns/f": ""})
    sha = git.Repo(repo).head.commit.hexsha
    assert paths(repo, [{"path": "infra/*"}], value="{{commitSHA}}") == [sha]


@pytest.fixture
def branched_repo(make_repo: MakeRepo) -> tuple[Path, str]:
    """main: apps/one, later apps/two; tag v1: apps/one; feature: apps/one + apps/feature."""
    repo_path = make_repo({"apps/one/f": ""})
    repo = git.Repo(repo_path)
    first_sha = repo.head.commit.hexsha
    repo.create_tag("v1")
    repo.git.checkout("-b", "feature")
    commit(repo_path, {"apps/feature/f": ""})
    repo.git.checkout("main")
    commit(repo_path, {"apps/two/f": ""})
    repo.close()
    return repo_path, first_sha


def revision_paths(repo: Path, revision: str) -> list[str]:
    return paths(repo, [{"path": "apps/*"}], revision=revision)


def test_revision_branch_reads_that_branch(branched_repo: tuple[Path, str]) -> None:
    repo, _ = branched_repo
    assert revision_paths(repo, "feature") == ["apps/feature", "apps/one"]


def test_revision_main_reads_the_latest_main_commit(branched_repo: tuple[Path, str]) -> None:
    repo, _ = branched_repo
    assert revision_paths(repo, "main") == ["apps/one", "apps/two"]


def test_revision_tag_reads_the_tagged_tree(branched_repo: tuple[Path, str]) -> None:
    repo, _ = branched_repo
    assert revision_paths(repo, "v1") == ["apps/one"]


def test_revision_sha_reads_that_commit(branched_repo: tuple[Path, str]) -> None:
    repo, first_sha = branched_repo
    assert revision_paths(repo, first_sha) == ["apps/one"]


def test_revision_head_reads_the_checked_out_branch(branched_repo: tuple[Path, str]) -> None:
    repo, _ = branched_repo
    assert revision_paths(repo, "HEAD") == ["apps/one", "apps/two"]


def test_unknown_revision_is_an_error_naming_it(repo: Path) -> None:
    with pytest.raises(GitReadError, match="revision 'no-such-branch' not found"):
        revision_paths(repo, "no-such-branch")


def test_repo_url_without_a_local_copy_tells_to_pass_repo(repo: Path) -> None:
    other = "https://git.example/org/other.git"
    with pytest.raises(GitReadError) as caught:
        paths(repo, [{"path": "*"}], repoURL=other)
    assert f"pass --repo {other}=DIR" in str(caught.value)


def test_malformed_pattern_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidApplicationSetError) as caught:
        appset([{"path": "apps/*"}, {"path": "[abc"}])
    assert caught.value.path == "spec.generators[0].git.directories[1].path"
    assert caught.value.detail.startswith("bad glob pattern")


def test_unknown_directory_item_field_is_refused() -> None:
    with pytest.raises(InvalidApplicationSetError) as caught:
        appset([{"path": "apps/*", "excludes": True}])
    assert caught.value.path == "spec.generators[0].git.directories[0].excludes"


def test_go_template_nests_the_path_parameters(repo: Path) -> None:
    value = "{{.path.path}}:{{.path.basename}}"
    name = "{{.path.basenameNormalized}}"
    kwargs: dict[str, Any] = {"value": value, "name": name, "go_template": True}
    assert paths(repo, [{"path": "infra/*"}], **kwargs) == ["infra/dns:dns"]
