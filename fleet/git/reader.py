"""The generators' `RepoResolver`/`RepoReader` over the cache's mirrors, pinned to snapshots.

Listing and reading reuse `generators.repos.gitrepo.GitRepoReader` on the bare mirror (it needs
no work tree); only `resolve` differs: names are answered from the ref snapshot the resolver was
made with, so a fetch landing mid-reconcile cannot give two parts of one reconcile two trees.
SHAs are immutable and resolved through git. The generators are synchronous and run in a worker
thread; a resolver and its readers belong to that one thread (each reader holds a `git.Repo`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from fleet.git import mirror
from fleet.git.errors import RepositoryNotCachedError, RevisionNotFoundError
from fleet.git.urls import cache_key, redact_url, split_credentials
from generators.errors import GitReadError, UnsafePathError
from generators.repos.gitrepo import GitRepoReader

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PinnedRepo:
    path: str
    snapshot: mirror.RefSnapshot
    display: str
    on_damage: Callable[[], None] | None = None
    """Told when git cannot read an object the snapshot says exists: the mirror is damaged."""


class MirrorReader:
    """`RepoReader` for one mirror; names resolve against the pinned snapshot."""

    def __init__(self, pinned: PinnedRepo) -> None:
        self._pinned = pinned
        self._inner: GitRepoReader | None = None

    @property
    def _reader(self) -> GitRepoReader:
        if self._inner is None:
            self._inner = GitRepoReader(self._pinned.path)
        return self._inner

    def resolve(self, revision: str) -> str:
        revision = revision.strip() or "HEAD"
        sha = self._pinned.snapshot.lookup(revision)
        if sha is None:
            sha = mirror.find_commit(self._pinned.path, revision)
        if sha is None:
            raise RevisionNotFoundError(
                f"revision {revision!r} not found in {self._pinned.display}"
            )
        return sha

    def directories(self, commit: str) -> list[str]:
        return self._guard(lambda: self._reader.directories(commit))

    def files(self, commit: str) -> list[str]:
        return self._guard(lambda: self._reader.files(commit))

    def read(self, commit: str, path: str) -> bytes:
        return self._guard(lambda: self._reader.read(commit, path))

    def _guard(self, call: Callable[[], T]) -> T:
        """Tell damage (unreadable objects) from ordinary answers ("no such file", unsafe path).

        A failed object read can leave the `cat-file` process mid-stream: the reader is reopened.
        """
        try:
            return call()
        except UnsafePathError:
            raise
        except GitReadError as error:
            if "no such file" not in str(error) and "over the" not in str(error):
                self._damaged()
            raise
        except Exception as error:  # gitdb/GitPython errors for a missing or corrupt object
            self._damaged()
            raise GitReadError(
                f"cannot read from {self._pinned.display}: {type(error).__name__}"
            ) from None

    def _damaged(self) -> None:
        self.close()
        if self._pinned.on_damage is not None:
            self._pinned.on_damage()

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()
            self._inner = None


class MirrorResolver:
    """`RepoResolver` answering from the mirrors pinned when it was made (`RepoCache.resolver`)."""

    def __init__(self, pinned: Mapping[str, PinnedRepo]) -> None:
        self._pinned = dict(pinned)
        self._readers: dict[str, MirrorReader] = {}

    def reader(self, repo_url: str) -> MirrorReader:
        key = cache_key(split_credentials(repo_url)[0])
        reader = self._readers.get(key)
        if reader is None:
            pinned = self._pinned.get(key)
            if pinned is None:
                raise RepositoryNotCachedError(
                    f"repository {redact_url(repo_url)} has not been fetched yet"
                )
            reader = MirrorReader(pinned)
            self._readers[key] = reader
        return reader

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()

    def __enter__(self) -> MirrorResolver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
