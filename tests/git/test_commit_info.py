"""RepoCache.commit: a commit's author and subject from a mirror the cache already holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.git.cache import RepoCache

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_repository_the_cache_does_not_hold_is_neither_registered_nor_fetched(
    tmp_path: Path,
) -> None:
    async with RepoCache(tmp_path / "cache") as cache:
        assert await cache.commit("https://git.invalid/config.git", "a" * 40) is None
        assert cache.repositories() == []
