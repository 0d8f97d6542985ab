"""A repository that is just a folder on disk (no Git history: every revision reads the same)."""

from __future__ import annotations

import os

from generators.errors import GitReadError, UnsafePathError
from generators.repos.safepath import check_relative


class DirectoryReader:
    def __init__(self, root: str) -> None:
        if not os.path.isdir(root):
            raise GitReadError(f"repository folder {root!r} does not exist")
        self._root = os.path.realpath(root)
        self._listing: tuple[list[str], list[str]] | None = None

    def resolve(self, revision: str) -> str:
        return ""

    def directories(self, commit: str) -> list[str]:
        return list(self._walk()[0])

    def files(self, commit: str) -> list[str]:
        return list(self._walk()[1])

    def read(self, commit: str, path: str) -> bytes:
        from generators.repos import MAX_FILE_BYTES

        full = os.path.join(self._root, check_relative(path))
        real = os.path.realpath(full)
        if real != self._root and not real.startswith(self._root + os.sep):
            raise UnsafePathError(f"{path!r} is a symlink that points outside the repository")
        try:
            size = os.path.getsize(real)
            if size > MAX_FILE_BYTES:
                raise GitReadError(f"{path}: file is {size} bytes, over the {MAX_FILE_BYTES} limit")
            with open(real, "rb") as handle:
                return handle.read()
        except OSError as error:
            raise GitReadError(f"{path}: {error.strerror}") from error

    def _walk(self) -> tuple[list[str], list[str]]:
        if self._listing is None:
            directories: list[str] = []
            files: list[str] = []
            for current, dirnames, filenames in os.walk(self._root):
                rel = os.path.relpath(current, self._root).replace(os.sep, "/")
                prefix = "" if rel == "." else rel + "/"
                hidden = any(part.startswith(".") for part in prefix.split("/"))
                links = [d for d in dirnames if os.path.islink(os.path.join(current, d))]
                # Git records a symlink to a directory as a file; never descend into one.
                dirnames[:] = sorted(d for d in dirnames if d != ".git" and d not in links)
                if not hidden:
                    # Argo CD's directory walk skips hidden directories (and all below them).
                    directories.extend(prefix + d for d in dirnames if not d.startswith("."))
                files.extend(prefix + f for f in [*filenames, *links])
            directories.sort(key=lambda p: p.split("/"))
            files.sort()
            self._listing = (directories, files)
        return self._listing
