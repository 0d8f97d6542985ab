"""Push webhooks from GitHub, GitLab, Gitea and Bitbucket Server: verify, match, refresh.

Order matters for safety: the body is size-limited (413) and time-limited (408), and the
signature or token checked with `hmac.compare_digest` before the JSON is even parsed, so an
unauthenticated sender can make fleet do nothing but hash at most `max_body` bytes; at most
`max_concurrent` webhooks are handled at once (503 beyond). A signed body is still parsed with a
bound on its nesting (400), never into a RecursionError. Rejections are reported through
`reject(reason)` (the server counts and aggregates them), not logged one line per request.
A provider with no configured secret is refused (401): unlike Argo CD, fleet never acts on
unsigned webhooks. Only repositories the event names, and that the cache already holds, are
refreshed, in the background: the sender gets 202 at once (senders time out after ~10 s; a
fetch may take longer).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import structlog
from aiohttp import web

from fleet.git.cache import RepoCache
from fleet.git.urls import redact_url, repo_identity
from generators.yamlio import DocumentShapeError, load_json

log = structlog.get_logger("fleet.git.webhook")

MAX_BODY_BYTES = 1024 * 1024
BODY_TIMEOUT = 10.0
MAX_CONCURRENT = 16
WEBHOOK_PATH = "/api/webhook"


@dataclass(frozen=True, slots=True)
class WebhookSecrets:
    """Shared secrets per provider; None = that provider's webhooks are refused."""

    github: str | None = field(default=None, repr=False)
    gitlab: str | None = field(default=None, repr=False)
    gitea: str | None = field(default=None, repr=False)
    bitbucket_server: str | None = field(default=None, repr=False)


def _provider(headers: Any) -> str | None:
    # Gitea also sends X-GitHub-Event (compatibility): test for it first.
    if "X-Gitea-Event" in headers:
        return "gitea"
    if "X-Gitlab-Event" in headers:
        return "gitlab"
    if "X-GitHub-Event" in headers:
        return "github"
    if "X-Event-Key" in headers and "X-Hub-Signature" in headers:
        return "bitbucket_server"
    return None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(provider: str, secrets: WebhookSecrets, headers: Any, body: bytes) -> bool:
    """True when the request carries the provider's valid signature (or token) for `body`."""
    secret: str | None = getattr(secrets, provider)
    if not secret:
        return False
    if provider == "gitlab":
        return _same(headers.get("X-Gitlab-Token", ""), secret)
    if provider == "gitea":
        given = headers.get("X-Gitea-Signature", "").removeprefix("sha256=")
        return _same(given, _hmac_hex(secret, body))
    header = "X-Hub-Signature-256" if provider == "github" else "X-Hub-Signature"
    return _same(headers.get(header, ""), "sha256=" + _hmac_hex(secret, body))


def _is_push(provider: str, headers: Any) -> bool:
    if provider == "github":
        return bool(headers.get("X-GitHub-Event") == "push")
    if provider == "gitea":
        return bool(headers.get("X-Gitea-Event") == "push")
    if provider == "gitlab":
        return headers.get("X-Gitlab-Event") in ("Push Hook", "Tag Push Hook", "System Hook")
    return headers.get("X-Event-Key") in ("repo:refs_changed", "repo:push")


def _strings(*values: Any) -> Iterator[str]:
    for value in values:
        if isinstance(value, str) and value:
            yield value


def payload_urls(provider: str, payload: Any) -> list[str]:
    """Every URL by which the pushed repository is named in the event."""
    if not isinstance(payload, dict):
        return []
    urls: list[str] = []
    if provider in ("github", "gitea"):
        repo = payload.get("repository") or {}
        if isinstance(repo, dict):
            keys = ("clone_url", "ssh_url", "html_url", "git_url", "url")
            urls += _strings(*(repo.get(k) for k in keys))
    elif provider == "gitlab":
        for section in ("project", "repository"):
            node = payload.get(section) or {}
            if isinstance(node, dict):
                keys = ("git_http_url", "git_ssh_url", "web_url", "url", "homepage")
                urls += _strings(*(node.get(k) for k in keys))
    else:
        repo = payload.get("repository") or {}
        links = repo.get("links", {}) if isinstance(repo, dict) else {}
        if isinstance(links, dict):
            for kind in ("clone", "self"):
                for link in links.get(kind) or []:
                    if isinstance(link, dict):
                        urls += _strings(link.get("href"))
    return urls


def make_webhook_app(
    cache: RepoCache,
    secrets: WebhookSecrets,
    *,
    path: str = WEBHOOK_PATH,
    max_body: int = MAX_BODY_BYTES,
    body_timeout: float = BODY_TIMEOUT,
    max_concurrent: int = MAX_CONCURRENT,
    reject: Callable[[str], None] | None = None,
) -> web.Application:
    """An aiohttp application with `POST path`; the cache must be running (`async with`).

    `reject(reason)` hears of every refused request (reasons: too_large, body_timeout, busy,
    unknown_provider, bad_signature, invalid_body); by default they are logged at debug level.
    """
    in_flight = 0

    def refuse(reason: str, status: int, error: str) -> web.Response:
        if reject is not None:
            reject(reason)
        else:
            log.debug("webhook.rejected", reason=reason, status=status)
        response = web.json_response({"error": error}, status=status)
        if status in (408, 413, 503):
            response.force_close()  # the rest of the body is not worth reading
        return response

    async def handle(request: web.Request) -> web.Response:
        nonlocal in_flight
        if in_flight >= max_concurrent:
            return refuse("busy", 503, "too many webhooks at once; retry later")
        in_flight += 1
        try:
            return await receive(request)
        finally:
            in_flight -= 1

    async def receive(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > max_body:
            return refuse("too_large", 413, "body too large")
        try:
            with anyio.fail_after(body_timeout):
                body = await request.read()  # client_max_size enforces max_body when unannounced
        except web.HTTPRequestEntityTooLarge:
            return refuse("too_large", 413, "body too large")
        except TimeoutError:
            return refuse("body_timeout", 408, f"body not received within {body_timeout:g}s")
        provider = _provider(request.headers)
        if provider is None:
            return refuse("unknown_provider", 400, "unknown webhook provider")
        if not verify(provider, secrets, request.headers, body):
            return refuse("bad_signature", 401, "invalid signature")
        if not _is_push(provider, request.headers):
            return web.json_response({"ignored": "not a push event"}, status=200)
        try:
            payload = load_json(body)
        except DocumentShapeError as error:
            return refuse("invalid_body", 400, f"body is {error}")
        except ValueError:
            return refuse("invalid_body", 400, "body is not JSON")
        named = {repo_identity(url) for url in payload_urls(provider, payload)}
        matched = [url for url in cache.repositories() if repo_identity(url) in named]
        for url in matched:
            cache.request_refresh(url)
        shown = [redact_url(url) for url in matched]
        log.info("webhook push", provider=provider, refreshing=shown)
        return web.json_response({"refreshing": shown}, status=202)

    app = web.Application(client_max_size=max_body)
    app.router.add_post(path, handle)
    return app
