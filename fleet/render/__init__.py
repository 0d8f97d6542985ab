"""Manifests from an Argo CD Application source at a resolved revision (see README.md).

`render(source, root, ...)` chooses the tool as Argo CD's repo-server does (Helm when the source
names a chart or the path holds Chart.yaml or `helm` is set; Kustomize when the path holds a
kustomization or `kustomize` is set; else a plain directory) and returns the objects, or raises
RenderError. Any RenderError means "desired state unknown": the caller reports it and must not
apply or prune on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from .directory import render_directory
from .errors import (
    INVALID_MANIFEST,
    INVALID_SOURCE,
    RENDER_FAILED,
    SANDBOX_UNAVAILABLE,
    TIMEOUT,
    TOO_LARGE,
    TOOL_MISSING,
    UNSUPPORTED,
    RenderError,
)
from .helm import is_chart, render_helm
from .kustomize import is_kustomization, render_kustomize
from .paths import app_directory, check_symlinks
from .reach import RenderReach
from .tools import RenderTools, report_sandbox, sandbox_status

__all__ = [
    "INVALID_MANIFEST",
    "INVALID_SOURCE",
    "RENDER_FAILED",
    "SANDBOX_UNAVAILABLE",
    "TIMEOUT",
    "TOOL_MISSING",
    "TOO_LARGE",
    "UNSUPPORTED",
    "RenderError",
    "RenderReach",
    "RenderTools",
    "render",
    "report_sandbox",
    "sandbox_status",
    "source_type",
]


def _set(value: Any) -> bool:
    return value is not None and value != {}


def source_type(source: Mapping[str, Any], app_dir: Path | None) -> str:
    """ "Helm", "Kustomize" or "Directory", decided as Argo CD does.

    An explicitly configured type wins (more than one is an error, as Argo CD's ExplicitType);
    else the path's files: a kustomization beats Chart.yaml (Argo CD's discovery walks files in
    byte order and the later "kustomization.yaml" / "Kustomization" overwrites "Chart.yaml").
    """
    if source.get("chart"):
        return "Helm"
    if source.get("plugin") is not None:
        raise RenderError(UNSUPPORTED, "config management plugins are not supported by fleet")
    explicit = [
        name
        for name, key in (("Kustomize", "kustomize"), ("Helm", "helm"), ("Directory", "directory"))
        if _set(source.get(key))
    ]
    if len(explicit) > 1:
        raise RenderError(
            INVALID_SOURCE, f"multiple application sources defined: {', '.join(explicit)}"
        )
    if explicit:
        return explicit[0]
    if app_dir is not None and is_kustomization(app_dir):
        return "Kustomize"
    if app_dir is not None and is_chart(app_dir):
        return "Helm"
    return "Directory"


async def render(
    source: Mapping[str, Any],
    root: Path,
    *,
    app_name: str,
    namespace: str,
    tools: RenderTools,
    reach: RenderReach | None = None,
) -> list[dict[str, Any]]:
    """The objects `source` (an Application's spec.source) describes in the content `root`.

    `reach`: the repositories the render may fetch remote bases from (the Application's
    Project sourceRepos); default none. Nothing outside `root` is read either way.
    """
    if source.get("chart"):
        return await render_helm(
            root, root, source, app_name=app_name, namespace=namespace, tools=tools
        )
    path = source.get("path", ".")
    if not isinstance(path, str):
        raise RenderError(INVALID_SOURCE, "spec.source.path: expected a string")
    app_dir = app_directory(root, path or ".")
    kind = source_type(source, app_dir)
    if kind == "Directory":
        return await anyio.to_thread.run_sync(partial(render_directory, root, app_dir, source))
    # A tool reads the whole tree (bases, value files): refuse escaping symlinks anywhere in it.
    await anyio.to_thread.run_sync(check_symlinks, root, root)
    if kind == "Helm":
        return await render_helm(
            root, app_dir, source, app_name=app_name, namespace=namespace, tools=tools
        )
    return await render_kustomize(root, app_dir, source, tools, reach)
