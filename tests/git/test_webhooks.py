"""Push webhooks: signatures checked first, only named repositories refreshed."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest
from aiohttp.test_utils import TestClient, TestServer

from fleet.git import RepoCache, RepoMoved, WebhookSecrets, make_webhook_app
from tests.git.support import GitDaemon, Upstream

pytestmark = pytest.mark.anyio

SECRETS = WebhookSecrets(
    github="gh-secret", gitlab="gl-token", gitea="gt-secret", bitbucket_server="bb"
)


@pytest.fixture
async def client(cache: RepoCache) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(make_webhook_app(cache, SECRETS))) as test_client:
        yield test_client


def _sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_push(url: str, secret: str = "gh-secret") -> tuple[bytes, dict[str, str]]:
    # GitHub names the repository by its web and clone URLs; match on any of them.
    body = json.dumps(
        {"ref": "refs/heads/main", "repository": {"clone_url": url, "html_url": "https://x/y"}}
    ).encode()
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + _sign(secret, body)}
    return body, headers


async def test_signed_github_push_moves_the_repository_within_two_seconds(
    cache: RepoCache,
    client: TestClient[Any, Any],
    daemon: GitDaemon,
    upstream: Callable[[str], Upstream],
) -> None:
    up = upstream("apps")
    old = up.commit({"a/x": "1"})
    other = upstream("other")
    other.commit({"b/x": "1"})
    url = daemon.url("apps")
    await cache.refresh(url)
    await cache.refresh(daemon.url("other"))
    events = cache.subscribe()
    new = up.commit({"a/x": "2"})

    # The payload spells the URL differently (.git dropped, upper case host part): same repo.
    body, headers = github_push(url.removesuffix(".git").upper().replace("GIT://", "git://"))
    with anyio.fail_after(2):
        response = await client.post("/api/webhook", data=body, headers=headers)
        assert response.status == 202
        assert (await response.json())["refreshing"] == [url]
        event = await events.receive()
    assert event == RepoMoved(url, "refs/heads/main", old, new)
    assert cache.status(daemon.url("other")).fetch_count == 1  # not named, not fetched


async def test_badly_signed_webhook_is_rejected_without_a_fetch(
    cache: RepoCache,
    client: TestClient[Any, Any],
    daemon: GitDaemon,
    upstream: Callable[[str], Upstream],
) -> None:
    upstream("apps").commit({"a/x": "1"})
    url = daemon.url("apps")
    await cache.refresh(url)
    body, headers = github_push(url, secret="wrong")
    response = await client.post("/api/webhook", data=body, headers=headers)
    assert response.status == 401
    headers.pop("X-Hub-Signature-256")
    assert (await client.post("/api/webhook", data=body, headers=headers)).status == 401
    gitlab = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "gl-tokeN"}
    assert (await client.post("/api/webhook", data=b"{}", headers=gitlab)).status == 401
    assert (await client.post("/api/webhook", data=b"not json", headers={})).status == 400
    await anyio.sleep(0.2)
    assert cache.status(url).fetch_count == 1


async def test_unconfigured_provider_is_refused(cache: RepoCache) -> None:
    app = make_webhook_app(cache, WebhookSecrets(github="only-github"))
    async with TestClient(TestServer(app)) as test_client:
        headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": ""}
        assert (await test_client.post("/api/webhook", data=b"{}", headers=headers)).status == 401


async def test_oversized_body_is_refused(client: TestClient[Any, Any]) -> None:
    body = b"x" * (1024 * 1024 + 1)
    headers = {
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": "sha256=" + _sign("gh-secret", body),
    }
    assert (await client.post("/api/webhook", data=body, headers=headers)).status == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the read limit applies
        for _ in range(17):
            yield b"x" * 65536

    response = await client.post("/api/webhook", data=chunks(), headers=headers)
    assert response.status == 413


@pytest.mark.parametrize("provider", ["gitlab", "gitea", "bitbucket_server"])
async def test_other_providers_push_events(
    provider: str,
    cache: RepoCache,
    client: TestClient[Any, Any],
    daemon: GitDaemon,
    upstream: Callable[[str], Upstream],
) -> None:
    up = upstream("apps")
    up.commit({"a/x": "1"})
    url = daemon.url("apps")
    await cache.refresh(url)
    events = cache.subscribe()
    new = up.commit({"a/x": "2"})
    if provider == "gitlab":
        payload: dict[str, Any] = {"project": {"git_http_url": url, "web_url": "https://gl/x"}}
        body = json.dumps(payload).encode()
        headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "gl-token"}
    elif provider == "gitea":
        payload = {"repository": {"clone_url": url}}
        body = json.dumps(payload).encode()
        headers = {
            "X-Gitea-Event": "push",
            "X-GitHub-Event": "push",
            "X-Gitea-Signature": _sign("gt-secret", body),
        }
    else:
        payload = {"repository": {"links": {"clone": [{"href": url, "name": "git"}]}}}
        body = json.dumps(payload).encode()
        headers = {
            "X-Event-Key": "repo:refs_changed",
            "X-Hub-Signature": "sha256=" + _sign("bb", body),
        }
    with anyio.fail_after(2):
        response = await client.post("/api/webhook", data=body, headers=headers)
        assert response.status == 202, await response.text()
        event = await events.receive()
    assert event.new_sha == new
