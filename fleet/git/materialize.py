"""A commit's subtree as plain files in a temp directory, without a work tree or checkout.

`git archive SHA:PATH` streams the subtree as a tar into an unnamed temp file (so memory stays
flat), then `tarfile`'s `data` filter extracts it: it refuses absolute names, `..`, device files
and any symlink or hard link pointing outside the destination, which are exactly the ways a
hostile repository could make a tool write or read outside its directory.
"""

from __future__ import annotations

import tarfile
import tempfile
from typing import IO

from fleet.git import mirror
from fleet.git.errors import GitFetchError
from generators.errors import GitReadError, UnsafePathError
from generators.repos.safepath import check_relative


class _TooLarge(Exception):
    pass


class _LimitedWriter:
    """Counts what `git archive` writes and stops it (broken pipe) past `limit` bytes.

    The limit applies while streaming, so a huge tree cannot fill the disk before it is refused.
    """

    def __init__(self, target: IO[bytes], limit: int) -> None:
        self._target = target
        self._limit = limit
        self.written = 0

    def write(self, data: bytes) -> int:
        self.written += len(data)
        if self.written > self._limit:
            raise _TooLarge
        return self._target.write(data)

    def flush(self) -> None:
        self._target.flush()


def extract_tree(mirror_path: str, sha: str, path: str, dest: str, *, max_bytes: int) -> None:
    """Write the tree at `path` in commit `sha` into the existing directory `dest`."""
    path = path.strip().strip("/")
    treeish = sha
    if path and path != ".":
        treeish = f"{sha}:{check_relative(path)}"
    with tempfile.TemporaryFile() as spool:
        limited = _LimitedWriter(spool, max_bytes)
        try:
            mirror.archive(mirror_path, treeish, limited)
        except GitFetchError as error:
            raise GitReadError(f"cannot archive {path or '/'} at {sha[:12]}: {error}") from None
        except _TooLarge:
            raise GitReadError(
                f"{path or '/'} at {sha[:12]} is over the {max_bytes} byte limit"
            ) from None
        spool.seek(0)
        with tarfile.open(fileobj=spool, mode="r:") as tar:
            try:
                tar.extractall(dest, filter="data")
            except tarfile.FilterError as error:
                raise UnsafePathError(f"{path or '/'} at {sha[:12]}: {error}") from None
