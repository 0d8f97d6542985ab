"""RepoHub: the repository cache as the controllers see it, with credentials from hub Secrets.

Why a layer over RepoCache: the cache needs a repository registered (`add`) with its
credentials before use, and those come from Argo CD-format `repository`/`repo-creds` Secrets on
the hub, which change while the controller runs. RepoHub looks the credentials up at each use
(cheap: each Secret is parsed once per change), so a rotated Secret applies on the next fetch
without a restart, and callers only ever name a repoURL.
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
    REPO_CREDS,
    REPOSITORY,
    SECRET_TYPE_LABEL,
    RepositoryAccess,
    RepositorySecretError,
    access_for,
    parse_repository_secret,
)

log = structlog.get_logger("fleet.repos")

SecretSource = Callable[[], Iterable[Mapping[str, Any]]]


def _no_secrets() -> Iterable[Mapping[str, Any]]:
    return ()


class RepositorySecrets:
    """Repository and repo-creds Secrets, each parsed once per change (name + resourceVersion).

    Why: credentials are looked up at every resolve, i.e. once per Application reconcile, while
    a Secret changes rarely; parsing them all each time cost CPU at fleet scale and logged a bad
    Secret once per reconcile. A malformed one is logged (by name) once per version and skipped,
    so one bad Secret never blocks the repositories the others serve.
    """

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[str, RepositoryAccess | None]] = {}
        self._last: tuple[object, list[RepositoryAccess]] = (None, [])

    def accesses(self, secrets: Iterable[Mapping[str, Any]]) -> list[RepositoryAccess]:
        """The accesses the repository Secrets among `secrets` give.

        The same list object as the last call returns the last answer (callers never change a
        list they passed: the registry's view is replaced when a Secret changes). The hub's
        Secrets are mostly cluster credentials, and walking 1,000 of them per reconcile was 2 %
        of the controller's CPU."""
        if secrets is self._last[0]:
            return self._last[1]
        out = self._walk(secrets)
        if isinstance(secrets, list):
            self._last = (secrets, out)
        return out

    def _walk(self, secrets: Iterable[Mapping[str, Any]]) -> list[RepositoryAccess]:
        out: list[RepositoryAccess] = []
        seen: set[str] = set()
        for secret in secrets:
            meta = secret.get("metadata")
            meta = meta if isinstance(meta, Mapping) else {}
            labels = meta.get("labels")
            if not isinstance(labels, Mapping) or labels.get(SECRET_TYPE_LABEL) not in (
                REPOSITORY,
                REPO_CREDS,
            ):
                continue  # most hub Secrets (cluster credentials) end here, unparsed
            name = str(meta.get("name", "?"))
            version = str(meta.get("resourceVersion") or "")
            seen.add(name)
            known = self._parsed.get(name)
            if known is None or not version or known[0] != version:
                known = self._parsed[name] = (version, _parse(name, labels, secret))
            if known[1] is not None:
                out.append(known[1])
        for gone in self._parsed.keys() - seen:
            del self._parsed[gone]
        return out


def _parse(
    name: str, labels: Mapping[str, Any], secret: Mapping[str, Any]
) -> RepositoryAccess | None:
    data = secret.get("data")
    try:
        if data is not None and not isinstance(data, Mapping):
            raise RepositorySecretError(f"secret {name}: data is not a map")
        return parse_repository_secret(
            name, {str(k): str(v) for k, v in labels.items()}, dict(data or {})
        )
    except RepositorySecretError as error:
        log.warning("repos.bad_secret", secret=name, error=str(error))
        return None


class RepoHub:
    def __init__(self, cache: RepoCache, secrets: SecretSource = _no_secrets) -> None:
        self.cache = cache
        self._secrets = secrets
        self._parsed = RepositorySecrets()

    def register(self, repo_url: str) -> None:
        """Make sure the cache knows `repo_url`, with the credentials the Secrets give now."""
        access = access_for(repo_url, self._parsed.accesses(self._secrets()))
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

    async def refresh(self, repo_url: str) -> None:
        """Fetch `repo_url` now (a fetch started after this call), for Argo CD's refresh
        annotation: the next resolve sees the branch as the server has it, not as the last
        poll left it. A fetch error propagates as GitFetchError."""
        self.register(repo_url)
        await self.cache.refresh(repo_url, fresh=True)

    @asynccontextmanager
    async def materialize(self, repo_url: str, sha: str, path: str = "") -> AsyncIterator[str]:
        self.register(repo_url)
        async with self.cache.materialize(repo_url, sha, path) as directory:
            yield directory

    def subscribe(self) -> MemoryObjectReceiveStream[RepoMoved]:
        return self.cache.subscribe()
