"""Polling picks up new commits and backs off from failing repositories."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from fleet.git import GitFetchError, Poller, RepoCache
from tests.git.support import GitDaemon, Upstream, free_port

pytestmark = pytest.mark.anyio


async def test_new_commit_is_picked_up_by_polling(
    cache: RepoCache, daemon: GitDaemon, upstream: Callable[[str], Upstream]
) -> None:
    up = upstream("apps")
    old = up.commit({"a/x": "1"})
    url = daemon.url("apps")
    assert await cache.resolve(url, "main") == old
    events = cache.subscribe()
    poller = Poller(cache, interval=0.3, tick=0.05)
    async with anyio.create_task_group() as group:
        group.start_soon(poller.run)
        new = up.commit({"a/x": "2"})
        with anyio.fail_after(5):
            event = await events.receive()
        group.cancel_scope.cancel()
    assert (event.ref, event.old_sha, event.new_sha) == ("refs/heads/main", old, new)
    assert await cache.resolve(url, "main") == new


async def test_poll_interval_is_jittered_and_failures_back_off(tmp_path: Path) -> None:
    url = f"git://127.0.0.1:{free_port()}/gone.git"  # nothing listens there
    async with RepoCache(tmp_path / "c", backoff_base=1, backoff_cap=4) as cache:
        cache.add(url)
        poller = Poller(cache, interval=60)
        delays = {round(poller.next_delay(url), 3) for _ in range(50)}
        assert len(delays) > 10 and all(54 <= d <= 66 for d in delays)
        for failures in range(1, 6):
            with pytest.raises(GitFetchError):
                await cache.refresh(url)
            ceiling = min(4.0, 2.0 ** (failures - 1))  # 1, 2, 4, 4, 4: exponential, capped
            draws = [poller.next_delay(url) for _ in range(50)]
            assert all(ceiling / 2 <= d <= ceiling for d in draws)
            assert len(set(draws)) > 10  # jittered
        assert cache.status(url).consecutive_failures == 5
