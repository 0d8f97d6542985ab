"""The desired state of an Application: its source resolved to a commit and rendered.

Kept apart from the Application controller so `fleet app diff` computes exactly what the
controller would apply. Any failure raises DesiredStateError; callers must read it as "desired
state unknown" and neither apply nor prune on it.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from fleet.controllers.repos import RepoHub
from fleet.git.urls import normalize_url
from fleet.render import RenderError, RenderReach, RenderTools, render, source_type
from fleet.render.paths import app_directory
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
    shared: bool = False
    """True when the result depends only on the source and the commit (plain directories and
    Kustomize), so Applications with the same source share one render; Helm output also
    depends on the release name and namespace."""
    source_type: str = ""
    """Helm, Kustomize or Directory (Argo CD's `status.sourceType`)."""


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
    reach: RenderReach | None = None,
) -> Desired:
    """Render `app`'s source at `revision` (default: spec.source.targetRevision).

    `reach`: what the render may fetch besides the source's own tree (the Application's
    Project sourceRepos, `RenderReach.of(project)`); default nothing."""
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
                reach=reach,
            )
            path = source.get("path") or "."
            kind = (
                "Helm"
                if source.get("chart")
                else source_type(source, app_directory(Path(root), str(path)))
            )
    except GitError as error:
        raise DesiredStateError("GitError", f"spec.source: {error}") from error
    except RenderError as error:
        raise DesiredStateError("ComparisonError", f"spec.source: {error}") from error
    return Desired(sha, manifests, shared=kind != "Helm", source_type=kind)


class DesiredCache:
    """Renders by (repository, commit, source, what the Project lets it reach), so a resync or
    a commit costs one render per distinct source, not one per Application: an ApplicationSet
    over 200 clusters and 5 paths renders 5 times. Concurrent requests for one key wait for a
    single render. Entries are immutable (a commit never changes), bounded by `size` (least
    recently used out).

    Callers must not mutate the manifests they get (the sync engine copies before stamping).
    """

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, ...], Desired] = OrderedDict()
        self._locks: dict[tuple[str, ...], anyio.Lock] = {}
        self.renders = 0
        self.hits = 0

    def _get(self, key: tuple[str, ...]) -> Desired | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
            self.hits += 1
        return found

    def _put(self, key: tuple[str, ...], desired: Desired) -> None:
        self._entries[key] = desired
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    async def get(
        self,
        app: Mapping[str, Any],
        repos: RepoHub,
        tools: RenderTools,
        *,
        revision: str = "",
        reach: RenderReach | None = None,
        fresh: bool = False,
    ) -> Desired:
        """`reach` is part of the key: a render one Project may make (a remote base it
        permits) is never handed to an Application of a Project that may not make it.
        `fresh` renders again even if a render of the same commit is cached (Argo CD's hard
        refresh: a Helm chart or remote base that moved under the same commit)."""
        reach = reach or RenderReach()
        source = source_of(app)
        sha = await resolve_revision(app, repos, revision)
        meta = app.get("metadata") or {}
        destination = (app.get("spec") or {}).get("destination") or {}
        base = (
            normalize_url(str(source["repoURL"])),
            sha,
            json.dumps(source, sort_keys=True, default=str),
            json.dumps(reach.source_repos),
        )
        own = (*base, str(meta.get("name", "")), str(destination.get("namespace") or ""))
        found = None if fresh else (self._get(base) or self._get(own))
        if found is not None:
            return found
        lock = self._locks.setdefault(base, anyio.Lock())
        async with lock:
            found = None if fresh else (self._get(base) or self._get(own))
            if found is not None:
                return found
            desired = await desired_state(app, repos, tools, revision=sha, reach=reach)
            self.renders += 1
            self._put(base if desired.shared else own, desired)
        if not lock.locked() and not lock.statistics().tasks_waiting:
            self._locks.pop(base, None)
        return desired
