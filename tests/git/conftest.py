"""Fixtures: a git daemon on loopback serving repositories made in the test, and a cache."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import structlog

from fleet.git import RepoCache
from tests.git.support import GitDaemon, Upstream


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _debug_logs() -> Iterator[None]:
    """Every event reaches the log checks, whatever another test configured before."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    yield
    structlog.configure(**saved)


@pytest.fixture
def served(tmp_path: Path) -> Path:
    base = tmp_path / "served"
    base.mkdir()
    return base


@pytest.fixture
def daemon(served: Path) -> Iterator[GitDaemon]:
    server = GitDaemon(served)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def upstream(served: Path) -> Callable[[str], Upstream]:
    def make(name: str) -> Upstream:
        return Upstream(served, name)

    return make


@pytest.fixture
async def cache(tmp_path: Path) -> AsyncIterator[RepoCache]:
    async with RepoCache(tmp_path / "cache", concurrency=4, fetch_timeout=20) as repo_cache:
        yield repo_cache
