"""How the Git generators read repositories: a small reader interface and the ways to get one.

The generators library never fetches: it asks a `RepoResolver` for a `RepoReader` for a repoURL, and
the reader answers "which directories and files exist at this revision, and what does this file
hold". This issue ships readers over a local folder and over a local Git repository (any branch,
tag or SHA); the controller's networked repository cache implements the same interface.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from generators.errors import GitReadError
from generators.repos.directory import DirectoryReader
from generators.repos.gitrepo import GitRepoReader, is_git_repository

MAX_FILE_BYTES = 4 * 1024 * 1024
"""Generator parameter files larger than this are refused: they are configuration, not data."""


class RepoReader(Protocol):
    """Read-only view of one repository. Paths are POSIX, relative to the repository root."""

    def resolve(self, revision: str) -> str:
        """The commit SHA a branch, tag, SHA or `HEAD` names (empty for a plain folder)."""
        ...

    def directories(self, commit: str) -> list[str]:
        """Every directory, in the order Argo CD's walk visits them; hidden ones are skipped."""
        ...

    def files(self, commit: str) -> list[str]:
        """Every file path, sorted."""
        ...

    def read(self, commit: str, path: str) -> bytes:
        """A file's content; refuses paths or symlinks that leave the repository."""
        ...


class RepoResolver(Protocol):
    def reader(self, repo_url: str) -> RepoReader: ...


class LocalRepoResolver:
    """Maps repoURLs to local folders or Git work trees (`fleet appset render --repo URL=DIR`)."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self._paths = {normalize_repo_url(url): path for url, path in mapping.items()}
        self._readers: dict[str, RepoReader] = {}

    def reader(self, repo_url: str) -> RepoReader:
        key = normalize_repo_url(repo_url)
        reader = self._readers.get(key)
        if reader is None:
            path = self._paths.get(key)
            if path is None:
                raise GitReadError(
                    f"no local copy of repository {repo_url!r}: pass --repo {repo_url}=DIR"
                )
            reader = GitRepoReader(path) if is_git_repository(path) else DirectoryReader(path)
            self._readers[key] = reader
        return reader

    def close(self) -> None:
        for reader in self._readers.values():
            close = getattr(reader, "close", None)
            if close is not None:
                close()
        self._readers.clear()


def normalize_repo_url(url: str) -> str:
    """Treat `https://host/org/repo`, `.../repo.git` and `.../repo/` as one repository."""
    url = url.strip().rstrip("/")
    if url.endswith(".git"):
        url = url[: -len(".git")]
    return url.lower()


__all__ = [
    "MAX_FILE_BYTES",
    "DirectoryReader",
    "GitRepoReader",
    "LocalRepoResolver",
    "RepoReader",
    "RepoResolver",
    "normalize_repo_url",
]
