"""RepoHub: the repository cache as the controllers see it, with credentials from hub Secrets.

Why a layer over RepoCache: the cache needs a repository registered (`add`) with its
credentials before use, and those come from Argo CD-format `repository`/`repo-creds` Secrets on
the hub, which change while the controller runs. RepoHub looks the credentials up at each use
(cheap: a dict of parsed Secrets), so a rotated Secret applies on the next fetch without a
restart, and callers only ever name a repoURL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import structlog
from anyio.streams.memory import MemoryObjectReceiveStream

from fleet.git.cache import RepoCache
from fleet.git.events import RepoMoved
from fleet.git.reader import MirrorResolver
from fleet.git.secrets import (
    RepositoryAccess,
    RepositorySecretError,
    access_for,
    parse_repository_secret,
)

log = structlog.get_logger("fleet.repos")

SecretSource = Callable[[], Iterable[Mapping[str, Any]]]


def _no_secrets() -> Iterable[Mapping[str, Any]]:
    return ()


def repository_accesses(secrets: Iterable[Mapping[str, Any]]) -> list[RepositoryAccess]:
    """Every repository/repo-creds Secret parsed; a malformed one is logged (by name) and skipped,
    so one bad Secret never blocks the repositories the others serve."""
    out: list[RepositoryAccess] = []
    for secret in secrets:
        meta = secret.get("metadata") or {}
        name = str(meta.get("name", "?"))
        try:
            access = parse_repository_secret(
                name, dict(meta.get("labels") or {}), dict(secret.get("data") or {})
            )
        except RepositorySecretError as error:
            log.warning("repos.bad_secret", secret=name, error=str(error))
            continue
        if access is not None:
            out.append(access)
    return out


class RepoHub:
    def __init__(self, cache: RepoCache, secrets: SecretSource = _no_secrets) -> None:
        self.cache = cache
        self._secrets = secrets

    def register(self, repo_url: str) -> None:
        """Make sure the cache knows `repo_url`, with the credentials the Secrets give now."""
        access = access_for(repo_url, repository_accesses(self._secrets()))
        if access is None:
            self.cache.add(repo_url)
        else:
            self.cache.add(repo_url, access.credentials, tls=access.tls)

    async def resolver(self, repo_urls: Iterable[str]) -> MirrorResolver:
        """A generators RepoResolver pinned to current snapshots of `repo_urls` (fetched first
        if never fetched; a fetch error propagates as GitError)."""
        urls = list(repo_urls)
        for url in urls:
            self.register(url)
        return await self.cache.resolver(urls)

    async def resolve(self, repo_url: str, revision: str) -> str:
        self.register(repo_url)
        return await self.cache.resolve(repo_url, revision)

    @asynccontextmanager
    async def materialize(self, repo_url: str, sha: str, path: str = "") -> AsyncIterator[str]:
        self.register(repo_url)
        async with self.cache.materialize(repo_url, sha, path) as directory:
            yield directory

    def subscribe(self) -> MemoryObjectReceiveStream[RepoMoved]:
        return self.cache.subscribe()
