"""Polling: every registered repository fetched about every `interval` seconds.

Each repository has its own due time, jittered (±10 % by default) so that 200 repositories
registered together spread out instead of fetching in lock-step forever. A failing repository
waits for the cache's exponential back-off instead of the interval. Fetches go through
`RepoCache.refresh`, so they share the cache's concurrency limit and coalesce with webhook and
reader-triggered fetches.
"""

from __future__ import annotations

import random
import time

import anyio

from fleet.git.cache import RepoCache
from fleet.git.errors import GitFetchError

DEFAULT_INTERVAL = 60.0
DEFAULT_JITTER = 0.1


class Poller:
    def __init__(
        self,
        cache: RepoCache,
        *,
        interval: float = DEFAULT_INTERVAL,
        jitter: float = DEFAULT_JITTER,
        tick: float = 1.0,
    ) -> None:
        self._cache = cache
        self._interval = interval
        self._jitter = jitter
        self._tick = tick
        self._due: dict[str, float] = {}
        self._running: set[str] = set()

    def next_delay(self, repo_url: str) -> float:
        """Back-off while failing (never longer than the interval: a repository back from an
        outage is seen as soon as a healthy one would be), else the jittered interval."""
        retry = self._cache.retry_delay(repo_url)
        if retry is not None:
            return min(retry, self._interval)
        spread = self._interval * self._jitter
        return self._interval + random.uniform(-spread, spread)

    async def run(self) -> None:
        """Poll until cancelled. New repositories are picked up within `tick` seconds."""
        async with anyio.create_task_group() as group:
            while True:
                now = time.monotonic()
                for url in self._cache.repositories():
                    # A repository added after start waits one jittered interval: whoever added
                    # it fetches it on first use (`resolve`/`ensure`).
                    due = self._due.setdefault(url, now + self.next_delay(url))
                    if due <= now and url not in self._running:
                        self._running.add(url)
                        group.start_soon(self._poll, url)
                upcoming = [due for url, due in self._due.items() if url not in self._running]
                wait = min([self._tick, *(due - now for due in upcoming)])
                await anyio.sleep(max(wait, 0.01))

    async def _poll(self, url: str) -> None:
        try:
            await self._cache.refresh(url)
        except GitFetchError:
            pass  # recorded and logged by the cache; the back-off decides the next try
        finally:
            self._due[url] = time.monotonic() + self.next_delay(url)
            self._running.discard(url)
