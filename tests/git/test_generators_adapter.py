"""The generators read through the cache: an ApplicationSet expanded over a served repository."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from fleet.git import MirrorResolver, RepoCache
from generators.base import Environment
from generators.expand import generate_applications
from generators.model import parse_application_set
from tests.git.support import GitDaemon, Upstream

pytestmark = pytest.mark.anyio


def _appset(repo_url: str, revision: str) -> Any:
    return parse_application_set(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "ApplicationSet",
            "metadata": {"name": "demo"},
            "spec": {
                "generators": [
                    {
                        "git": {
                            "repoURL": repo_url,
                            "revision": revision,
                            "directories": [{"path": "apps/*"}],
                        }
                    }
                ],
                "template": {
                    "metadata": {"name": "{{path.basename}}"},
                    "spec": {"project": "default", "source": {"path": "{{path}}"}},
                },
            },
        }
    )


def _names(resolver: MirrorResolver, repo_url: str, revision: str) -> list[str]:
    """Runs in a worker thread, as the generators do; the resolver is closed in that thread."""
    with resolver:
        apps = generate_applications(_appset(repo_url, revision), Environment(repos=resolver))
    return [app["metadata"]["name"] for app in apps]


async def test_git_directories_generator_reads_through_the_cache(
    cache: RepoCache, daemon: GitDaemon, upstream: Callable[[str], Upstream]
) -> None:
    up = upstream("apps")
    up.commit({"apps/web/k.yaml": "", "apps/api/k.yaml": ""})
    up.git("tag", "v1")
    up.git("push", "-q", "origin", "--tags")
    up.commit({"apps/db/k.yaml": ""})
    url = daemon.url("apps")
    resolver = await cache.resolver([url])
    spelled = url.removesuffix(".git") + "/"  # same repository, spelt differently
    names = await anyio.to_thread.run_sync(_names, resolver, spelled, "HEAD")
    assert names == ["api", "db", "web"]
    resolver = await cache.resolver()
    assert await anyio.to_thread.run_sync(_names, resolver, url, "v1") == ["api", "web"]
