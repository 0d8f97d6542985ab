"""A local Git repository read at any revision without a checkout (GitPython as a git runner).

`git ls-tree -r -t` gives the whole tree at a commit in one call and blobs are read through the
repository's persistent `cat-file` process, so listing 50 directories or reading 1,000 parameter
files costs a few processes, not one per file. A `Repo` is not thread-safe: one reader belongs to
one thread, and `close()` stops its git processes.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass

import git

from generators.errors import GitReadError, UnsafePathError
from generators.repos.safepath import check_relative, join_inside

_SYMLINK_MODE = "120000"
_MAX_SYMLINK_HOPS = 8


def is_git_repository(path: str) -> bool:
    """A work tree (has `.git`) or a bare repository."""
    if os.path.exists(os.path.join(path, ".git")):
        return True
    return os.path.isfile(os.path.join(path, "HEAD")) and os.path.isdir(
        os.path.join(path, "objects")
    )


@dataclass(frozen=True, slots=True)
class _Entry:
    mode: str
    kind: str
    sha: str


class GitRepoReader:
    def __init__(self, path: str) -> None:
        try:
            self._repo = git.Repo(path)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as error:
            raise GitReadError(f"{path!r} is not a git repository") from error
        self._path = path
        self._trees: dict[str, dict[str, _Entry]] = {}
        self._resolved: dict[str, str] = {}

    def close(self) -> None:
        self._repo.close()

    def resolve(self, revision: str) -> str:
        revision = revision.strip() or "HEAD"
        cached = self._resolved.get(revision)
        if cached is not None:
            return cached
        # A clone has remote branches only as origin/NAME; tags and SHAs resolve directly.
        for candidate in (revision, f"refs/remotes/origin/{revision}", f"refs/tags/{revision}"):
            try:
                sha = str(
                    self._repo.git.rev_parse("--verify", "--quiet", f"{candidate}^{{commit}}")
                )
            except git.GitCommandError:
                continue
            self._resolved[revision] = sha
            return sha
        raise GitReadError(f"revision {revision!r} not found in repository {self._path!r}")

    def directories(self, commit: str) -> list[str]:
        tree = self._tree(commit)
        dirs = [
            path
            for path, entry in tree.items()
            if entry.kind == "tree" and not any(p.startswith(".") for p in path.split("/"))
        ]
        # Argo CD walks a checkout depth first in name order; git sorts "a-b" before "a/".
        dirs.sort(key=lambda p: p.split("/"))
        return dirs

    def files(self, commit: str) -> list[str]:
        return sorted(path for path, entry in self._tree(commit).items() if entry.kind == "blob")

    def read(self, commit: str, path: str) -> bytes:
        from generators.repos import MAX_FILE_BYTES

        tree = self._tree(commit)
        path = check_relative(path)
        for _ in range(_MAX_SYMLINK_HOPS):
            entry = tree.get(path)
            if entry is None or entry.kind != "blob":
                raise GitReadError(f"{path}: no such file at {commit[:12]}")
            data = self._blob(entry.sha, path, MAX_FILE_BYTES)
            if entry.mode != _SYMLINK_MODE:
                return data
            path = join_inside(posixpath.dirname(path), data.decode("utf-8", "replace"))
        raise UnsafePathError(f"{path}: too many levels of symbolic links")

    def _blob(self, sha: str, path: str, limit: int) -> bytes:
        binsha = bytes.fromhex(sha)
        # Ask the size first: a refused stream left half-read would corrupt the next read.
        size = self._repo.odb.info(binsha).size
        if size > limit:
            raise GitReadError(f"{path}: file is {size} bytes, over the {limit} limit")
        data: bytes = self._repo.odb.stream(binsha).read()
        return data

    def _tree(self, commit: str) -> dict[str, _Entry]:
        tree = self._trees.get(commit)
        if tree is None:
            try:
                out = str(self._repo.git.ls_tree("-r", "-t", "-z", "--full-tree", commit))
            except git.GitCommandError as error:
                raise GitReadError(f"cannot list commit {commit[:12]}: {error.stderr}") from error
            tree = {}
            for record in out.split("\0"):
                if not record:
                    continue
                meta, _, path = record.partition("\t")
                mode, kind, sha = meta.split()
                tree[path] = _Entry(mode, kind, sha)
            self._trees[commit] = tree
        return tree
