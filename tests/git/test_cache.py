"""The repository cache against a real `git daemon` on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from fleet.git import GitFetchError, RepoCache, RevisionNotFoundError
from generators.errors import GitReadError, UnsafePathError
from tests.git.support import GitDaemon, Upstream

pytestmark = pytest.mark.anyio

MakeUpstream = Callable[[str], Upstream]


async def test_branch_tag_and_sha_revisions(
    cache: RepoCache, daemon: GitDaemon, upstream: MakeUpstream
) -> None:
    up = upstream("apps")
    first = up.commit({"a/config.json": "{}"})
    up.git("tag", "-a", "v1", "-m", "release 1")
    up.git("tag", "light")
    up.git("push", "-q", "origin", "--tags")
    second = up.commit({"b/config.json": "{}"})
    up.git("branch", "old", first)
    up.git("push", "-q", "origin", "old")
    url = daemon.url("apps")

    assert await cache.resolve(url, "main") == second
    assert await cache.resolve(url, "HEAD") == second
    assert await cache.resolve(url, "") == second
    assert await cache.resolve(url, "refs/heads/main") == second
    assert await cache.resolve(url, "old") == first
    assert await cache.resolve(url, "v1") == first  # annotated tag peeled to its commit
    assert await cache.resolve(url, "light") == first
    assert await cache.resolve(url, first) == first
    assert await cache.resolve(url, first[:8]) == first
    assert await cache.resolve(url, first[:8].upper()) == first
    with pytest.raises(RevisionNotFoundError):
        await cache.resolve(url, "no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        await cache.resolve(url, "0" * 40)


async def test_concurrent_fetches_of_one_repository_are_coalesced(
    cache: RepoCache, daemon: GitDaemon, upstream: MakeUpstream
) -> None:
    upstream("apps").commit({"a/x": "1"})
    url = daemon.url("apps")
    await cache.refresh(url)
    before = cache.status(url).fetch_count

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(cache.refresh, url)
    assert cache.status(url).fetch_count == before + 1

    # Callers that need a fetch started after their call share one follow-up fetch.
    async with anyio.create_task_group() as group:
        group.start_soon(cache.refresh, url)
        await anyio.sleep(0)
        for _ in range(10):
            group.start_soon(lambda: cache.refresh(url, fresh=True))
    assert cache.status(url).fetch_count == before + 3


async def test_failed_fetch_keeps_last_good_revision_and_recovers(
    tmp_path: Path, daemon: GitDaemon, upstream: MakeUpstream
) -> None:
    up = upstream("apps")
    good = up.commit({"a/x": "1"})
    url = daemon.url("apps")
    async with RepoCache(tmp_path / "c", fetch_timeout=5, backoff_base=1, backoff_cap=4) as cache:
        assert await cache.resolve(url, "main") == good
        daemon.stop()
        newer = up.commit({"a/x": "2"})
        with pytest.raises(GitFetchError):
            await cache.refresh(url)
        with pytest.raises(GitFetchError):
            await cache.refresh(url)
        status = cache.status(url)
        assert status.last_error and "git fetch failed" in status.last_error
        assert status.consecutive_failures == 2
        assert status.head == good
        delay = cache.retry_delay(url)
        assert delay is not None and 1.0 <= delay <= 2.0
        assert await cache.resolve(url, "main") == good  # served from the last good snapshot
        resolver = await cache.resolver()
        with resolver:
            reader = resolver.reader(url)
            assert reader.resolve("main") == good
            assert reader.directories(good) == ["a"]

        daemon.start()
        await cache.refresh(url)
        status = cache.status(url)
        assert status.last_error is None and status.consecutive_failures == 0
        assert status.head == newer
        assert cache.retry_delay(url) is None


async def test_damaged_mirror_is_recloned(
    cache: RepoCache, daemon: GitDaemon, upstream: MakeUpstream
) -> None:
    up = upstream("apps")
    sha = up.commit({"a/x": "1", "a/y": "2"})
    url = daemon.url("apps")
    await cache.refresh(url)
    mirror_dir = _mirror_dir(cache)
    _unpack(mirror_dir)
    # Lose one blob: commit and tree still there.
    blob = up.git("rev-parse", f"{sha}:a/y")
    (mirror_dir / "objects" / blob[:2] / blob[2:]).unlink()
    await cache.refresh(url)
    assert cache.status(url).reclone_count == 0  # nothing a fetch or a ref check can see
    with await cache.resolver() as resolver:
        reader = resolver.reader(url)
        assert reader.read(sha, "a/x") == b"1"
        with pytest.raises(GitReadError):
            reader.read(sha, "a/y")
    await cache.refresh(url)  # the reader reported damage: fsck, then re-clone
    assert cache.status(url).reclone_count == 1
    with await cache.resolver() as resolver:
        assert resolver.reader(url).read(sha, "a/y") == b"2"


def _unpack(mirror_dir: Path) -> None:
    """Turn the clone's pack into loose objects, so that one object can be deleted."""
    for pack in list((mirror_dir / "objects" / "pack").glob("*.pack")):
        moved = mirror_dir.parent / pack.name
        pack.rename(moved)
        for index in (mirror_dir / "objects" / "pack").glob(pack.stem + ".*"):
            index.unlink()
        with moved.open("rb") as stream:
            subprocess.run(
                ["git", "unpack-objects", "-q"], cwd=mirror_dir, stdin=stream, check=True
            )
        moved.unlink()


def _mirror_dir(cache: RepoCache) -> Path:
    names = [name for name in os.listdir(cache.cache_dir) if name.endswith(".git")]
    assert len(names) == 1
    return Path(cache.cache_dir) / names[0]


async def test_restart_during_an_outage_serves_the_mirror_on_disk(
    tmp_path: Path, daemon: GitDaemon, upstream: MakeUpstream
) -> None:
    sha = upstream("apps").commit({"a/x": "1"})
    url = daemon.url("apps")
    async with RepoCache(tmp_path / "c") as first:
        await first.refresh(url)
    daemon.stop()
    async with RepoCache(tmp_path / "c", fetch_timeout=5) as second:
        assert await second.resolve(url, "main") == sha
        status = second.status(url)
        assert status.last_error is not None and status.last_success is None
        assert status.head == sha


async def test_corrupted_mirror_is_recloned(
    cache: RepoCache, daemon: GitDaemon, upstream: MakeUpstream
) -> None:
    up = upstream("apps")
    up.commit({"a/x": "1"})
    url = daemon.url("apps")
    await cache.refresh(url)
    mirror_dir = _mirror_dir(cache)
    # Lose every object: refs now point at nothing. git then fetches everything again.
    for entry in (mirror_dir / "objects").iterdir():
        if entry.name not in ("info", "pack"):
            shutil.rmtree(entry)
    for pack in (mirror_dir / "objects" / "pack").iterdir():
        pack.unlink()
    newer = up.commit({"a/x": "2"})
    await cache.refresh(url)
    assert await cache.resolve(url, "main") == newer
    with await cache.resolver() as resolver:
        assert resolver.reader(url).read(newer, "a/x") == b"2"

    # A broken HEAD (not a git directory any more) is re-cloned.
    (mirror_dir / "HEAD").unlink()
    await cache.refresh(url)
    assert cache.status(url).reclone_count == 1
    assert await cache.resolve(url, "main") == newer


async def test_resolver_is_pinned_to_its_snapshot(
    cache: RepoCache, daemon: GitDaemon, upstream: MakeUpstream
) -> None:
    up = upstream("apps")
    first = up.commit({"apps/one/x": "1", "apps/two/y": "2", ".hidden/z": "3"})
    url = daemon.url("apps")
    resolver = await cache.resolver([url])
    up.commit({"apps/three/x": "1"})
    await cache.refresh(url)
    with resolver:
        reader = resolver.reader(url)
        assert reader.resolve("main") == first
        assert reader.directories(first) == ["apps", "apps/one", "apps/two"]
        assert reader.files(first) == [".hidden/z", "apps/one/x", "apps/two/y"]
        assert reader.read(first, "apps/one/x") == b"1"


async def test_escaping_symlink_is_refused(
    cache: RepoCache, daemon: GitDaemon, upstream: MakeUpstream
) -> None:
    up = upstream("apps")
    sha = up.commit(
        {"apps/one/config.json": "{}"},
        symlinks={"apps/evil": "../../../etc/passwd", "apps/ok": "one/config.json"},
    )
    url = daemon.url("apps")
    await cache.refresh(url)
    with await cache.resolver() as resolver:
        reader = resolver.reader(url)
        assert reader.read(sha, "apps/ok") == b"{}"
        with pytest.raises(UnsafePathError):
            reader.read(sha, "apps/evil")
        with pytest.raises(UnsafePathError):
            reader.read(sha, "../etc/passwd")
    with pytest.raises(UnsafePathError):
        async with cache.materialize(url, sha, "apps"):
            pass
    with pytest.raises(UnsafePathError):
        async with cache.materialize(url, sha, "../x"):
            pass
    assert _trees(cache) == []


def _trees(cache: RepoCache) -> list[str]:
    return [n for n in os.listdir(Path(cache.cache_dir) / ".tmp") if n.startswith("fleet-tree-")]


async def test_materialize_extracts_a_subtree_and_cleans_up(
    cache: RepoCache, daemon: GitDaemon, upstream: MakeUpstream
) -> None:
    up = upstream("apps")
    sha = up.commit({"apps/one/values.yaml": "a: 1\n", "apps/one/sub/k.yaml": "k", "top": "t"})
    url = daemon.url("apps")
    await cache.refresh(url)
    async with cache.materialize(url, sha, "apps/one") as directory:
        root = Path(directory)
        assert (root / "values.yaml").read_text() == "a: 1\n"
        assert (root / "sub" / "k.yaml").read_text() == "k"
        assert not (root / "top").exists()
    assert not root.exists()

    with pytest.raises(RuntimeError):
        async with cache.materialize(url, sha) as directory:
            assert (Path(directory) / "top").read_text() == "t"
            raise RuntimeError("consumer failed")
    assert not Path(directory).exists()
    assert _trees(cache) == []

    with pytest.raises(RevisionNotFoundError):
        async with cache.materialize(url, "main"):
            pass


async def test_a_hung_server_is_cut_off_by_the_timeout(tmp_path: Path) -> None:
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"git://127.0.0.1:{listener.getsockname()[1]}/hang.git"
        async with RepoCache(tmp_path / "c", fetch_timeout=1) as cache:
            started = time.monotonic()
            with pytest.raises(GitFetchError) as failed:
                await cache.refresh(url)
            assert time.monotonic() - started < 5
    assert "timed out after 1s" in str(failed.value)
    assert cache.status(url).last_error == str(failed.value).split(": ", 1)[1]


async def test_materialize_refuses_a_tree_over_the_size_limit(
    tmp_path: Path, daemon: GitDaemon, upstream: MakeUpstream
) -> None:
    sha = upstream("apps").commit({f"big/{i}": os.urandom(8192).hex() for i in range(20)})
    url = daemon.url("apps")
    async with RepoCache(tmp_path / "c", max_archive_bytes=64 * 1024) as cache:
        await cache.refresh(url)
        with pytest.raises(GitReadError, match="over the 65536 byte limit"):
            async with cache.materialize(url, sha, "big"):
                pass
        assert _trees(cache) == []


async def test_errors_leave_the_cache_context_unwrapped(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        async with RepoCache(tmp_path / "c"):
            raise KeyError("mine")
