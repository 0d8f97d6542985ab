"""The Dockerfile, read statically: no Docker engine runs the build on the test machines.

What can be checked without building: the stages and their bases, what is copied from where, the
user the image runs as, and that the files it names are in the repository and in the build
context (.dockerignore).
"""

from __future__ import annotations

import fnmatch
import os
import re
import tomllib

import pytest

from tests.deploy.dockerfile import Instruction, Stage, parse
from tests.deploy.manifests import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
BUILD_SCRIPT = "tools/render-binaries/build.sh"


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse(DOCKERFILE)


@pytest.fixture(scope="module")
def runtime(stages: list[Stage]) -> Stage:
    return stages[-1]


def _ignored() -> list[str]:
    return [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def _local_copies(stages: list[Stage]) -> list[tuple[Stage, Instruction, list[str]]]:
    """(stage, COPY, sources) for every COPY from the build context (not --from a stage)."""
    out = []
    for stage in stages:
        for copy in stage.all("COPY"):
            if "from" not in copy.flags:
                out.append((stage, copy, copy.words()[:-1]))
    return out


def test_three_named_stages_end_in_the_runtime(stages: list[Stage]) -> None:
    assert [s.name for s in stages] == ["render-binaries", "wheel", "runtime"]


def test_every_base_image_has_an_explicit_tag_that_is_not_latest(stages: list[Stage]) -> None:
    for stage in stages:
        _, _, tag = stage.image.rpartition(":")
        assert ":" in stage.image and tag and tag != "latest", stage.image


def test_python_stages_use_python_3_11_slim(stages: list[Stage]) -> None:
    python = [s.image for s in stages if s.image.startswith("python:")]
    assert python and all(re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", i) for i in python)


def test_go_stage_satisfies_the_go_version_build_sh_asks_for(stages: list[Stage]) -> None:
    needed = re.search(r"Go >= (\d+)\.(\d+)", (REPO_ROOT / BUILD_SCRIPT).read_text())
    assert needed, f"{BUILD_SCRIPT} no longer says which Go it needs"
    found = re.fullmatch(r"golang:(\d+)\.(\d+)(\.\d+)?(-\w+)?", stages[0].image)
    assert found, stages[0].image
    have = (int(found[1]), int(found[2]))
    assert have >= (int(needed[1]), int(needed[2]))


def test_go_stage_runs_the_pinned_build_script(stages: list[Stage]) -> None:
    builder = stages[0]
    copied = {w for c in builder.all("COPY") for w in c.words()[:-1]}
    assert BUILD_SCRIPT in copied
    assert any("build.sh /out" in run.rest for run in builder.all("RUN"))
    assert os.access(REPO_ROOT / BUILD_SCRIPT, os.X_OK)


def test_build_context_sources_exist(stages: list[Stage]) -> None:
    for _, _, sources in _local_copies(stages):
        for source in sources:
            assert (REPO_ROOT / source).exists(), f"Dockerfile copies missing {source}"


def test_build_context_sources_are_not_dockerignored(stages: list[Stage]) -> None:
    patterns = _ignored()
    for _, _, sources in _local_copies(stages):
        for source in sources:
            parts = source.split("/")
            prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
            hit = [p for p in patterns for pre in prefixes if fnmatch.fnmatch(pre, p)]
            assert not hit, f"{source} is excluded by .dockerignore {hit}"


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    assert {".git", ".venv", ".cache", ".pytest_cache", ".mypy_cache", ".ruff_cache"} <= set(
        _ignored()
    )


def test_wheel_stage_copies_what_the_project_build_needs(stages: list[Stage]) -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    wheel = next(s for s in stages if s.name == "wheel")
    copied = {w.rstrip("/") for c in wheel.all("COPY") for w in c.words()[:-1]}
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert {"pyproject.toml", project["project"]["readme"], *packages} <= copied


def test_stage_references_name_earlier_stages(stages: list[Stage]) -> None:
    for index, stage in enumerate(stages):
        earlier = {s.name for s in stages[:index]}
        for instruction in stage.instructions:
            sources = [instruction.flags.get("from")] + [m.get("from") for m in instruction.mounts]
            for source in filter(None, sources):
                assert source in earlier, f"{stage.name}: {instruction.keyword} from {source}"


def test_runtime_user_is_a_numeric_non_root_uid_and_gid(runtime: Stage) -> None:
    user = runtime.all("USER")[-1].rest
    assert re.fullmatch(r"\d+:\d+", user), user
    uid, gid = (int(part) for part in user.split(":"))
    assert uid == 65532 and gid == 65532


def test_runtime_installs_git_without_recommends_and_drops_apt_lists(runtime: Stage) -> None:
    [apt] = [r.rest for r in runtime.all("RUN") if "apt-get install" in r.rest]
    assert "--no-install-recommends" in apt
    assert {"git", "ca-certificates"} <= set(apt.split())
    assert "rm -rf /var/lib/apt/lists/*" in apt


def test_runtime_pip_installs_without_a_cache(runtime: Stage) -> None:
    installs = [r.rest for r in runtime.all("RUN") if "pip install" in r.rest]
    assert installs and all("--no-cache-dir" in i for i in installs)


def test_runtime_has_kustomize_and_helm_in_usr_local_bin(runtime: Stage) -> None:
    copies = [c.words() for c in runtime.all("COPY") if c.flags.get("from") == "render-binaries"]
    assert copies == [["/out/kustomize", "/out/helm", "/usr/local/bin/"]]


def test_runtime_ships_the_crds_where_fleet_crds_dir_points(runtime: Stage) -> None:
    copies = [c.words() for c in runtime.all("COPY") if "from" not in c.flags]
    assert ["crds", "/opt/fleet/crds"] in copies
    env = " ".join(e.rest for e in runtime.all("ENV"))
    assert "FLEET_CRDS_DIR=/opt/fleet/crds" in env.split()


def test_entrypoint_is_the_fleet_console_script(runtime: Stage) -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    [entrypoint] = runtime.all("ENTRYPOINT")
    assert entrypoint.words() == ["fleet"]
    assert "fleet" in project["project"]["scripts"]


def test_default_command_runs_the_controller_in_fleet_system(runtime: Stage) -> None:
    [cmd] = runtime.all("CMD")
    assert cmd.words() == ["controller", "run", "--namespace", "fleet-system"]
