"""Plain directories of YAML/JSON manifests (Argo CD's "Directory" source type).

Argo CD's rules: files ending in .yaml, .yml or .json (Jsonnet is not supported here); without
`recurse` only the application directory itself; `exclude` then `include` globs matched against
the path relative to the application directory. Files are read in sorted path order so the result
is stable. Symlinks are followed only when they stay inside the repository.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import INVALID_SOURCE, TOO_LARGE, RenderError
from .globs import glob_match
from .manifests import parse_json, parse_yaml_stream
from .paths import inside

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024
MAX_FILES = 10_000


def _options(source: Mapping[str, Any]) -> tuple[bool, str, str]:
    directory = source.get("directory") or {}
    if not isinstance(directory, Mapping):
        raise RenderError(INVALID_SOURCE, "directory: expected a mapping")
    recurse = directory.get("recurse", False)
    include = directory.get("include") or ""
    exclude = directory.get("exclude") or ""
    if not isinstance(recurse, bool):
        raise RenderError(INVALID_SOURCE, "directory.recurse: expected a boolean")
    if not isinstance(include, str) or not isinstance(exclude, str):
        raise RenderError(INVALID_SOURCE, "directory.include/exclude: expected strings")
    if directory.get("jsonnet"):
        raise RenderError(INVALID_SOURCE, "directory.jsonnet is not supported by fleet")
    return recurse, include, exclude


def manifest_files(root: Path, app_dir: Path, source: Mapping[str, Any]) -> list[Path]:
    """The manifest files Argo CD would read, in a stable order (paths inside `root`)."""
    recurse, include, exclude = _options(source)
    found: list[Path] = []
    for current, dirs, files in os.walk(app_dir):
        dirs.sort()
        if not recurse:
            dirs.clear()
        else:
            # A symlinked directory is not descended into (filepath.Walk), but must not escape.
            for name in dirs:
                if (Path(current) / name).is_symlink():
                    inside(
                        root,
                        Path(current) / name,
                        f"symlink {Path(current, name).relative_to(root)}",
                    )
        for name in sorted(files):
            path = Path(current) / name
            if not name.endswith(MANIFEST_SUFFIXES):
                continue
            relative = path.relative_to(app_dir).as_posix()
            if exclude and glob_match(exclude, relative):
                continue
            if include and not glob_match(include, relative):
                continue
            found.append(path)
            if len(found) > MAX_FILES:
                raise RenderError(TOO_LARGE, f"more than {MAX_FILES} manifest files")
    return found


def render_directory(root: Path, app_dir: Path, source: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every object of every manifest file (blocking file I/O: call from a worker thread)."""
    objects: list[dict[str, Any]] = []
    total = 0
    for path in manifest_files(root, app_dir, source):
        label = path.relative_to(root).as_posix()
        real = inside(root, path, f"file {label}")
        size = real.stat().st_size
        if size > MAX_FILE_BYTES:
            raise RenderError(TOO_LARGE, f"{label}: {size} bytes exceeds {MAX_FILE_BYTES}")
        total += size
        if total > MAX_TOTAL_BYTES:
            raise RenderError(TOO_LARGE, f"manifests exceed {MAX_TOTAL_BYTES} bytes in total")
        data = real.read_bytes()
        if label.endswith(".json"):
            objects.extend(parse_json(data, label))
        else:
            objects.extend(parse_yaml_stream(data, label))
    return objects
