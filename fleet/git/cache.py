"""The repository cache: one bare mirror per repoURL, fetched off the event loop, coalesced.

Concurrency rules (see docs in README.md):
- all blocking git work runs in worker threads bounded by one `CapacityLimiter`;
- one fetch per repository at a time (a per-repository lock, also taken by re-clone and archive);
- callers arriving while a fetch runs join it instead of starting another. A caller that must
  see the remote as it is *now* (a webhook: the push may have landed after the running fetch
  started) asks `fresh=True` and gets the next fetch, shared with every other such caller.

A failed fetch never discards what was fetched before: the last good ref snapshot keeps being
served and the error is recorded per repository (`status()`).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType

import anyio
import structlog
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream

from fleet.git import mirror
from fleet.git.credentials import Credentials, HTTPSCredentials, TLSOptions
from fleet.git.errors import GitFetchError, RevisionNotFoundError
from fleet.git.events import EventHub, RepoMoved, diff_snapshots
from fleet.git.materialize import extract_tree
from fleet.git.mirror import RefSnapshot, Remote
from fleet.git.reader import MirrorResolver, PinnedRepo
from fleet.git.runner import connectivity_ok, git_dir_ok, missing_objects
from fleet.git.urls import cache_key, redact_text, redact_url, split_credentials
from generators.repos.gitrepo import is_git_repository

log = structlog.get_logger("fleet.git")

_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_NETWORK_ERRORS = (
    "unable to connect",
    "connection refused",
    "could not resolve",
    "timed out",
    "authentication failed",
    "could not read from remote",
    "could not read username",
    "could not read password",
    "couldn't connect",
    "failed to connect",
    "repository not found",
    "does not appear to be a git repository",
    "hung up",
    "unable to access",
    "no route to host",
    "network is unreachable",
    "host key verification failed",
    "permission denied",
)


@dataclass(frozen=True, slots=True)
class RepoStatus:
    """What the cache knows about one repository (safe to show: URL redacted)."""

    repo_url: str
    head: str
    last_success: float | None
    last_attempt: float | None
    last_error: str | None
    consecutive_failures: int
    fetch_count: int
    reclone_count: int


@dataclass(eq=False)
class _Repo:
    key: str
    remote: Remote
    display: str
    path: str
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    snapshot: RefSnapshot | None = None
    inflight: anyio.Event | None = None
    started: int = 0
    completed: int = 0
    outcome: str | None = None  # error text of the last completed fetch, None when it worked
    last_success: float | None = None
    last_attempt: float | None = None
    failures: int = 0
    fetch_count: int = 0
    reclone_count: int = 0
    suspect: bool = False

    def mark_suspect(self) -> None:
        """Called (from any thread) when a read found the mirror damaged: fsck on next fetch."""
        self.suspect = True


class RepoCache:
    """Bare mirrors under `cache_dir`, keyed by a hash of the credential-free normalised URL.

    Use as `async with RepoCache(dir) as cache:` so that background refreshes (webhooks) have a
    task group to run in; `refresh`, `resolve` and `materialize` also work without it.
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike[str],
        *,
        concurrency: int = 4,
        fetch_timeout: float = 120.0,
        backoff_base: float = 5.0,
        backoff_cap: float = 300.0,
        max_archive_bytes: int = 512 * 1024 * 1024,
    ) -> None:
        # Absolute: git runs in other directories (clones are renamed into place from a
        # temp dir), so a relative path would name a different place for each command.
        self.cache_dir = os.path.abspath(os.fspath(cache_dir))
        os.makedirs(self.cache_dir, mode=0o700, exist_ok=True)
        self._temp_root = os.path.join(self.cache_dir, ".tmp")
        os.makedirs(self._temp_root, mode=0o700, exist_ok=True)
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._fetch_timeout = fetch_timeout
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._max_archive_bytes = max_archive_bytes
        self._repos: dict[str, _Repo] = {}
        self._events = EventHub()
        self._task_group: TaskGroup | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> RepoCache:
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        # Background refreshes are cancelled (their git processes finish or time out). The body's
        # own exception, if any, propagates as itself, not wrapped in an ExceptionGroup.
        assert self._task_group is not None
        self._task_group.cancel_scope.cancel()
        try:
            await self._task_group.__aexit__(None, None, None)
        finally:
            self._task_group = None
            self._events.close()
        return None

    # -- registration -----------------------------------------------------------------------

    def add(
        self,
        repo_url: str,
        credentials: Credentials | None = None,
        *,
        tls: TLSOptions | None = None,
    ) -> str:
        """Register a repository (idempotent; new credentials or TLS options replace old).

        Credentials embedded in the URL are moved out of it into HTTPS credentials. Returns the
        repository's key (its mirror's directory name).
        """
        clean, username, password = split_credentials(repo_url)
        if credentials is None and (username or password):
            credentials = HTTPSCredentials(username or "git", password or "")
        key = cache_key(clean)
        repo = self._repos.get(key)
        if repo is None:
            remote = Remote(clean, credentials, self._fetch_timeout, tls)
            path = os.path.join(self.cache_dir, f"{key}.git")
            repo = _Repo(key=key, remote=remote, display=redact_url(clean), path=path)
            self._repos[key] = repo
        elif credentials is not None or tls is not None or repo.remote.url != clean:
            repo.remote = Remote(
                clean,
                credentials or repo.remote.credentials,
                self._fetch_timeout,
                tls or repo.remote.tls,
            )
        return key

    def repositories(self) -> list[str]:
        """Registered repositories, as credential-free URLs."""
        return [repo.remote.url for repo in self._repos.values()]

    def _repo(self, repo_url: str) -> _Repo:
        clean, username, password = split_credentials(repo_url)
        repo = self._repos.get(cache_key(clean))
        if repo is None or username or password:
            self.add(repo_url)
            repo = self._repos[cache_key(clean)]
        return repo

    def status(self, repo_url: str) -> RepoStatus:
        repo = self._repo(repo_url)
        return RepoStatus(
            repo_url=repo.display,
            head=repo.snapshot.head if repo.snapshot else "",
            last_success=repo.last_success,
            last_attempt=repo.last_attempt,
            last_error=repo.outcome,
            consecutive_failures=repo.failures,
            fetch_count=repo.fetch_count,
            reclone_count=repo.reclone_count,
        )

    def retry_delay(self, repo_url: str) -> float | None:
        """Seconds to wait before retrying a failing repository (None when it is healthy).

        Exponential in the number of consecutive failures, capped, with "equal jitter" (half
        fixed, half random) so that repositories failing together do not retry together.
        """
        repo = self._repo(repo_url)
        if repo.failures == 0:
            return None
        delay = min(self._backoff_cap, self._backoff_base * 2 ** (repo.failures - 1))
        return float(delay / 2 + random.uniform(0, delay / 2))

    def subscribe(self, max_buffer: int = 1000) -> MemoryObjectReceiveStream[RepoMoved]:
        """A stream of `RepoMoved` for every ref a fetch changes (not for the first fetch)."""
        return self._events.subscribe(max_buffer)

    # -- fetching ---------------------------------------------------------------------------

    async def refresh(self, repo_url: str, *, fresh: bool = False) -> RefSnapshot:
        """Fetch (or join the running fetch); the new snapshot, or `GitFetchError`.

        `fresh=True` guarantees a fetch that started after this call.
        """
        repo = self._repo(repo_url)
        target = repo.started + 1 if (fresh or repo.inflight is None) else repo.started
        while repo.completed < target:
            if repo.inflight is not None:
                await repo.inflight.wait()
            else:
                await self._fetch(repo)
        if repo.outcome is not None:
            raise GitFetchError(f"{repo.display}: {repo.outcome}")
        assert repo.snapshot is not None
        return repo.snapshot

    def request_refresh(self, repo_url: str) -> None:
        """Start a fresh fetch in the background (webhooks); errors are recorded, not raised."""
        if self._task_group is None:
            raise RuntimeError("RepoCache.request_refresh needs `async with RepoCache(...)`")
        self._task_group.start_soon(self._refresh_quietly, repo_url)

    async def _refresh_quietly(self, repo_url: str) -> None:
        with contextlib.suppress(GitFetchError):  # recorded in status and logged by _fetch
            await self.refresh(repo_url, fresh=True)

    async def _fetch(self, repo: _Repo) -> None:
        # Everything up to the first await runs atomically: only one task gets here per fetch.
        repo.started += 1
        done = anyio.Event()
        repo.inflight = done
        bound = log.bind(repo=repo.display)
        try:
            async with repo.lock:
                repo.last_attempt = time.time()
                repo.fetch_count += 1
                old = repo.snapshot
                try:
                    new = await anyio.to_thread.run_sync(
                        self._fetch_sync, repo, limiter=self._limiter
                    )
                except Exception as error:  # any failure must reach the callers joined to it
                    repo.failures += 1
                    repo.outcome = (
                        str(error)
                        if isinstance(error, GitFetchError)
                        else redact_text(f"{type(error).__name__}: {error}", *repo.remote.secrets)
                    )
                    bound.warning("fetch failed", error=repo.outcome, failures=repo.failures)
                    if repo.snapshot is None:
                        repo.snapshot = await anyio.to_thread.run_sync(
                            _existing_snapshot, repo.path, limiter=self._limiter
                        )
                    return
                repo.snapshot = new
                repo.outcome = None
                repo.failures = 0
                repo.last_success = time.time()
                events = diff_snapshots(repo.display, old, new) if old is not None else []
                bound.info("fetched", revision=new.head[:12], changed_refs=len(events))
                for event in events:
                    self._events.publish(event)
        finally:
            repo.completed = repo.started
            repo.inflight = None
            done.set()

    def _fetch_sync(self, repo: _Repo) -> RefSnapshot:
        """Clone or fetch, re-cloning a corrupted mirror; runs in a worker thread."""
        bound = log.bind(repo=repo.display)
        # Full check once per process; afterwards file checks only (a poll is then 2 processes).
        healthy = is_git_repository(repo.path) and (
            repo.snapshot is not None or git_dir_ok(repo.path)
        )
        if not healthy:
            if os.path.exists(repo.path):
                bound.warning("mirror unreadable, re-cloning")
                repo.reclone_count += 1
            mirror.clone(repo.remote, repo.path, temp_root=self._temp_root)
            repo.suspect = False
            return mirror.read_refs(repo.path)
        try:
            mirror.fetch(repo.remote, repo.path, temp_root=self._temp_root)
        except GitFetchError as error:
            if _is_network_error(str(error)) or connectivity_ok(repo.path):
                raise
            bound.warning("mirror corrupted, re-cloning", error=str(error))
            repo.reclone_count += 1
            mirror.clone(repo.remote, repo.path, temp_root=self._temp_root)
            repo.suspect = False
        snapshot = mirror.read_refs(repo.path)
        # Only refs that moved need their objects checked: unchanged ones were checked before.
        previous = repo.snapshot.refs if repo.snapshot is not None else {}
        moved = {sha for name, sha in snapshot.refs.items() if previous.get(name) != sha}
        missing = missing_objects(repo.path, sorted(moved))
        if missing or (repo.suspect and not connectivity_ok(repo.path)):
            bound.warning("mirror is missing objects, re-cloning", missing=missing[:5])
            repo.reclone_count += 1
            mirror.clone(repo.remote, repo.path, temp_root=self._temp_root)
            snapshot = mirror.read_refs(repo.path)
        repo.suspect = False
        return snapshot

    def mark_suspect(self, repo_url: str) -> None:
        """A read failed oddly: check the mirror's objects (and re-clone) on the next fetch."""
        self._repo(repo_url).mark_suspect()

    # -- revisions and reading --------------------------------------------------------------

    async def ensure(self, repo_url: str) -> RefSnapshot:
        """The current snapshot, fetching first if the repository was never fetched."""
        repo = self._repo(repo_url)
        if repo.snapshot is None:
            try:
                await self.refresh(repo_url)
            except GitFetchError:
                if repo.snapshot is None:
                    raise
        assert repo.snapshot is not None
        return repo.snapshot

    async def resolve(self, repo_url: str, revision: str = "HEAD") -> str:
        """Branch, tag, full or short SHA, or HEAD -> full commit SHA.

        Names are looked up in the last good snapshot; an unknown name or full SHA triggers one
        fresh fetch (it may have been pushed since), failures of which are tolerated.
        """
        repo = self._repo(repo_url)
        revision = revision.strip() or "HEAD"
        snapshot = await self.ensure(repo_url)
        for attempt in range(2):
            sha = snapshot.lookup(revision)
            if sha is None and mirror.looks_like_sha(revision):
                sha = await anyio.to_thread.run_sync(
                    mirror.find_commit, repo.path, revision, limiter=self._limiter
                )
            if sha is not None:
                log.debug("resolved", repo=repo.display, revision=revision, sha=sha)
                return sha
            if attempt == 0 and not (mirror.looks_like_sha(revision) and len(revision) < 40):
                try:
                    snapshot = await self.refresh(repo_url, fresh=True)
                except GitFetchError:
                    break
            else:
                break
        raise RevisionNotFoundError(f"revision {revision!r} not found in {repo.display}")

    async def commit(self, repo_url: str, sha: str) -> mirror.CommitInfo | None:
        """Author, date and subject of `sha` in the mirror of `repo_url`, or None: a
        repository the cache does not hold already is neither registered nor fetched
        (the dashboard asks, and its visitors must not make the controller fetch)."""
        clean, _username, _password = split_credentials(repo_url)
        repo = self._repos.get(cache_key(clean))
        if repo is None or repo.snapshot is None:
            return None
        return await anyio.to_thread.run_sync(
            mirror.commit_info, repo.path, sha, limiter=self._limiter
        )

    async def resolver(self, repo_urls: Iterable[str] = ()) -> MirrorResolver:
        """A `generators.repos.RepoResolver` pinned to the current snapshots.

        `repo_urls` are fetched first if never fetched. Every reader it hands out resolves names
        against the snapshot taken here, so one reconcile sees one consistent set of SHAs even if
        fetches land meanwhile. Use (and `close()`) it in one thread: its readers hold `Repo`s.
        """
        for url in repo_urls:
            await self.ensure(url)
        pinned = {
            key: PinnedRepo(repo.path, repo.snapshot, repo.display, repo.mark_suspect)
            for key, repo in self._repos.items()
            if repo.snapshot is not None
        }
        return MirrorResolver(pinned)

    @asynccontextmanager
    async def materialize(self, repo_url: str, sha: str, path: str = "") -> AsyncIterator[str]:
        """A temp directory holding the tree at `path` in commit `sha`; removed on exit.

        Takes a resolved full SHA, never a branch: what is materialized is what was resolved.
        """
        if not _FULL_SHA.match(sha):
            raise RevisionNotFoundError(f"materialize needs a full commit SHA, got {sha!r}")
        repo = self._repo(repo_url)
        await self.ensure(repo_url)
        dest = tempfile.mkdtemp(prefix="fleet-tree-", dir=self._temp_root)
        try:
            async with repo.lock:
                await anyio.to_thread.run_sync(
                    _extract,
                    repo.path,
                    sha,
                    path,
                    dest,
                    self._max_archive_bytes,
                    limiter=self._limiter,
                )
            yield dest
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_rmtree, dest)


def _extract(mirror_path: str, sha: str, path: str, dest: str, max_bytes: int) -> None:
    extract_tree(mirror_path, sha, path, dest, max_bytes=max_bytes)


def _rmtree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _existing_snapshot(path: str) -> RefSnapshot | None:
    """Refs of a mirror left on disk by an earlier run: served when the first fetch fails."""
    if not git_dir_ok(path):
        return None
    try:
        snapshot = mirror.read_refs(path)
    except GitFetchError:
        return None
    return snapshot if snapshot.refs else None


def _is_network_error(message: str) -> bool:
    """Failures of the server or the way to it, which say nothing about the mirror's health."""
    lowered = message.lower()
    if "repository '" in lowered and "not found" in lowered:
        return True
    return any(marker in lowered for marker in _NETWORK_ERRORS)
