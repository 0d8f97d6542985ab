"""fleet's own git errors: what callers catch, with messages that never carry a credential."""

from __future__ import annotations

from generators.errors import GitReadError


class GitFetchError(GitReadError):
    """A network git operation (clone, fetch) failed; the message is already redacted.

    A subclass of `GitReadError` so that a generator reading through the cache reports a failed
    fetch like any other unreadable repository (never as "no directories").
    """


class RevisionNotFoundError(GitReadError):
    """A branch, tag or SHA does not exist in the repository (after a fetch)."""


class RepositoryNotCachedError(GitReadError):
    """The repository has never been fetched successfully, so there is nothing to serve."""
