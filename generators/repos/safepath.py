"""Path checks shared by the repository readers: nothing a generator asks for may leave the repo."""

from __future__ import annotations

import posixpath

from generators.errors import UnsafePathError


def join_inside(base_dir: str, relative: str) -> str:
    """Resolve `relative` against the repository-relative directory `base_dir`.

    Used for symlink targets: an absolute target, or one that climbs above the root, is refused.
    """
    if relative.startswith("/"):
        raise UnsafePathError(f"symlink target {relative!r} is an absolute path")
    joined = posixpath.normpath(posixpath.join(base_dir, relative))
    if joined == ".." or joined.startswith("../"):
        raise UnsafePathError(f"symlink target {relative!r} points outside the repository")
    return joined


def check_relative(path: str) -> str:
    """Refuse absolute paths and `..` segments in a repository path."""
    if path.startswith("/") or ".." in path.split("/"):
        raise UnsafePathError(f"path {path!r} leaves the repository")
    return posixpath.normpath(path)
