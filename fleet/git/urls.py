"""Repository URL handling: one identity per repository, and URLs that are safe to show.

Three views of a repoURL are needed and they must not be confused:
- `redact_url` is what logs, errors, events and status show: no password or token, ever.
- `normalize_url` is the cache identity (the mirror directory is a hash of it): credentials
  removed, scheme and host lower-cased, `.git` and trailing `/` dropped, scp-like `git@host:path`
  rewritten as `ssh://git@host/path`, so the same repository spelt two ways shares one mirror.
- `repo_identity` (`host/path`) is what webhook payloads are matched on: a push event names the
  repository by its https, ssh and web URLs, any of which may be the one an Application uses.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import SplitResult, urlsplit, urlunsplit

from fleet.redaction import MASK, redact

_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^/:]+):(?P<path>(?!//).*)$")
_REDACTED_USERINFO = MASK


def _split(url: str) -> SplitResult | None:
    """A parsed URL, or None for the scp-like `user@host:path` form (and local paths)."""
    if "://" not in url:
        return None
    return urlsplit(url)


def _scp_to_ssh(url: str) -> str:
    match = _SCP_LIKE.match(url)
    if match is None or "/" in match.group("host"):
        return url
    user = match.group("user")
    userinfo = f"{user}@" if user else ""
    return f"ssh://{userinfo}{match.group('host')}/{match.group('path').lstrip('/')}"


def _netloc(parts: SplitResult, *, keep_user: bool) -> str:
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    if keep_user and parts.username and parts.password is None:
        return f"{parts.username}@{host}"
    return host


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """(url without userinfo, username, password) for http(s) URLs that embed credentials.

    Credentials written into a repoURL are taken out before git ever sees the URL: git would
    otherwise put them in its argv (visible in `ps`) and in the mirror's config.
    """
    parts = _split(url.strip())
    if parts is None or parts.scheme.lower() not in ("http", "https"):
        return url.strip(), None, None
    if parts.username is None and parts.password is None:
        return url.strip(), None, None
    clean = urlunsplit(
        (parts.scheme.lower(), _netloc(parts, keep_user=False), parts.path, parts.query, "")
    )
    return clean, parts.username, parts.password


def redact_url(url: str) -> str:
    """The URL with any password or token removed: safe for logs, errors, events and status.

    For http(s) the whole userinfo goes (a token is often written as the username); for ssh the
    user name stays (`git@host`) unless a password is attached too.
    """
    url = url.strip()
    parts = _split(url)
    if parts is None:
        return url
    scheme = parts.scheme.lower()
    if parts.username is None and parts.password is None:
        return url
    keep_user = scheme not in ("http", "https")
    try:
        netloc = _netloc(parts, keep_user=keep_user)
    except ValueError:  # unparsable port: drop everything up to the host rather than guess
        netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))


def redact_text(text: str, *secrets: str | None) -> str:
    """Remove URL userinfo, known credential shapes (fleet.redaction) and every given secret
    from free text (git's stderr, exceptions)."""
    text = redact(text)
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, _REDACTED_USERINFO)
    return text


def normalize_url(url: str) -> str:
    """The cache identity of a repoURL: same repository, same string; never any credential."""
    url = url.strip()
    if "://" not in url:
        url = _scp_to_ssh(url)
    parts = _split(url)
    if parts is None:
        path = url.rstrip("/")
        return path[: -len(".git")] if path.endswith(".git") else path
    scheme = parts.scheme.lower()
    path = parts.path.rstrip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    netloc = _netloc(parts, keep_user=scheme not in ("http", "https"))
    return urlunsplit((scheme, netloc, path, "", ""))


def repo_identity(url: str) -> str:
    """`host/path`, lower-case: what a webhook's clone, ssh and web URLs have in common."""
    normalized = normalize_url(url)
    parts = _split(normalized)
    if parts is None:
        return normalized.lower()
    return f"{(parts.hostname or '').lower()}{parts.path.lower()}"


def cache_key(url: str) -> str:
    """Directory name of a repository's mirror: a hash, so no URL part reaches the file system."""
    return hashlib.sha256(normalize_url(url).encode()).hexdigest()[:40]
