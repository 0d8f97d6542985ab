"""Shared fixtures: real Git repositories made in the test with GitPython."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import git
import pytest

from tests.clusters.harness import Env


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM (a CI timeout, or tools/test-lanes.sh stopping its second lane) ends the run as
    Ctrl-C does, so fixtures still tear down: kind clusters and their private dockerd, real
    kube-apiserver processes. By default SIGTERM would kill pytest on the spot and leave them."""
    signal.signal(signal.SIGTERM, _interrupted)


MakeRepo = Callable[..., Path]


def _commit_tree(repo: git.Repo, files: Mapping[str, str], message: str) -> str:
    root = Path(repo.working_tree_dir or ".")
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    repo.git.add(A=True)
    repo.index.commit(message)
    return repo.head.commit.hexsha


@pytest.fixture
def make_repo(tmp_path: Path) -> MakeRepo:
    """A git repository on branch `main` holding `files` (path -> content) or a copy of `source`."""
    counter = iter(range(1_000_000))

    def make(files: Mapping[str, str] | None = None, *, source: Path | None = None) -> Path:
        root = tmp_path / f"repo{next(counter)}"
        if source is not None:
            shutil.copytree(source, root)
        else:
            root.mkdir()
        repo = git.Repo.init(root, initial_branch="main")
        with repo.config_writer() as config:
            config.set_value("user", "name", "fleet tests")
            config.set_value("user", "email", "tests@fleet.invalid")
        _commit_tree(repo, files or {}, "initial")
        repo.close()
        return root

    return make


def commit(repo_path: Path, files: Mapping[str, str], message: str = "change") -> str:
    """Commit more files on the current branch; returns the new SHA."""
    repo = git.Repo(repo_path)
    try:
        return _commit_tree(repo, files, message)
    finally:
        repo.close()


os.environ.setdefault("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture(scope="session")
def shared_real() -> Iterator[Env]:
    """The session's one real harness (hub + 3 members): see tests/realshared.py."""
    from tests.realshared import shared_real_env

    with shared_real_env() as env:
        yield env
