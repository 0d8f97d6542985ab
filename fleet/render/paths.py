"""Keeping every file a renderer reads inside the repository content it was given."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import INVALID_SOURCE, RenderError


def app_directory(root: Path, source_path: str) -> Path:
    """`root / source.path`, refusing absolute paths, `..` and symlinks that leave `root`."""
    if source_path.startswith("/") or ".." in Path(source_path).parts:
        raise RenderError(INVALID_SOURCE, f"path {source_path!r} leaves the repository")
    directory = inside(root, root / source_path, f"path {source_path!r}")
    if not directory.is_dir():
        raise RenderError(INVALID_SOURCE, f"path {source_path!r} is not a directory")
    return directory


def inside(root: Path, candidate: Path, what: str) -> Path:
    """`candidate` with symlinks resolved, provided it stays under `root` (else InvalidSource)."""
    real_root = root.resolve()
    try:
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        raise RenderError(INVALID_SOURCE, f"{what} does not exist or is a broken symlink") from None
    if real != real_root and real_root not in real.parents:
        raise RenderError(INVALID_SOURCE, f"{what} resolves outside the repository")
    return real


def check_symlinks(root: Path, top: Path) -> None:
    """Refuse any symlink under `top` that resolves outside `root` (Argo CD's out-of-bounds check).

    Run before a tool reads the tree: helm and kustomize would follow such a link to, say,
    /etc/passwd or the controller's own files.
    """
    for current, dirs, files in os.walk(top):
        for name in [*dirs, *files]:
            path = Path(current) / name
            if path.is_symlink():
                relative = path.relative_to(root)
                inside(root, path, f"symlink {relative}")
