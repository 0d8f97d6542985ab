"""The desired state of an Application: its source resolved to a commit and rendered.

Kept apart from the Application controller so `fleet app diff` computes exactly what the
controller would apply. Any failure raises DesiredStateError; callers must read it as "desired
state unknown" and neither apply nor prune on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleet.controllers.repos import RepoHub
from fleet.render import RenderError, RenderTools, render
from generators.errors import GitReadError as GitError


class DesiredStateError(Exception):
    """The source could not be resolved or rendered. `reason` is a short CamelCase word for
    status conditions (ComparisonError in Argo CD's terms); the message says what to fix."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Desired:
    revision: str
    """The full commit SHA the manifests were rendered from."""
    manifests: list[dict[str, Any]]


def source_of(app: Mapping[str, Any]) -> Mapping[str, Any]:
    source = (app.get("spec") or {}).get("source")
    if not isinstance(source, Mapping) or not source.get("repoURL"):
        raise DesiredStateError("InvalidSpecError", "spec.source.repoURL is required")
    return source


async def resolve_revision(app: Mapping[str, Any], repos: RepoHub, revision: str = "") -> str:
    source = source_of(app)
    wanted = revision or str(source.get("targetRevision") or "HEAD")
    try:
        return await repos.resolve(str(source["repoURL"]), wanted)
    except GitError as error:
        raise DesiredStateError("GitError", f"spec.source: {error}") from error


async def desired_state(
    app: Mapping[str, Any],
    repos: RepoHub,
    tools: RenderTools,
    *,
    revision: str = "",
) -> Desired:
    """Render `app`'s source at `revision` (default: spec.source.targetRevision)."""
    source = source_of(app)
    sha = await resolve_revision(app, repos, revision)
    meta = app.get("metadata") or {}
    destination = (app.get("spec") or {}).get("destination") or {}
    try:
        async with repos.materialize(str(source["repoURL"]), sha) as root:
            manifests = await render(
                source,
                Path(root),
                app_name=str(meta.get("name", "")),
                namespace=str(destination.get("namespace") or ""),
                tools=tools,
            )
    except GitError as error:
        raise DesiredStateError("GitError", f"spec.source: {error}") from error
    except RenderError as error:
        raise DesiredStateError("ComparisonError", f"spec.source: {error}") from error
    return Desired(sha, manifests)
