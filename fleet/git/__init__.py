"""Git sources: a cache of bare mirrors, revision resolution, polling and webhooks.

See `fleet/git/README.md` for the module map and the rules (no secret in argv, logs or paths;
one fetch per repository at a time; the last good revision survives a failed fetch).
"""

from fleet.git.cache import RepoCache, RepoStatus
from fleet.git.credentials import (
    BearerToken,
    Credentials,
    HTTPSCredentials,
    SSHCredentials,
    TLSOptions,
)
from fleet.git.errors import GitFetchError, RepositoryNotCachedError, RevisionNotFoundError
from fleet.git.events import RepoMoved
from fleet.git.mirror import RefSnapshot
from fleet.git.polling import Poller
from fleet.git.reader import MirrorReader, MirrorResolver
from fleet.git.urls import normalize_url, redact_url, repo_identity
from fleet.git.webhooks import WebhookSecrets, make_webhook_app

__all__ = [
    "BearerToken",
    "Credentials",
    "GitFetchError",
    "HTTPSCredentials",
    "MirrorReader",
    "MirrorResolver",
    "Poller",
    "RefSnapshot",
    "RepoCache",
    "RepoMoved",
    "RepoStatus",
    "RepositoryNotCachedError",
    "RevisionNotFoundError",
    "SSHCredentials",
    "TLSOptions",
    "WebhookSecrets",
    "make_webhook_app",
    "normalize_url",
    "redact_url",
    "repo_identity",
]
