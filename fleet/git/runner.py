"""Running git: one place for argv, environment, timeouts and error redaction.

Everything here is synchronous and runs in a worker thread (the cache calls it through
`anyio.to_thread.run_sync` with a `CapacityLimiter`). GitPython is used only as a command runner:
`git.Git(path).execute` with `kill_after_timeout`, because a thread blocked on a hung server can
never be cancelled, only its process killed. No `git.Repo` is opened here, so no long-lived
`cat-file` processes are left behind by network work.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from typing import Protocol

import git
import structlog

from fleet.git.errors import GitFetchError
from fleet.git.urls import redact_text

log = structlog.get_logger("fleet.git")


class Sink(Protocol):
    """Where streamed stdout goes (a file, or a size-limiting wrapper around one)."""

    def write(self, data: bytes, /) -> int: ...


ALLOWED_PROTOCOLS = "http:https:ssh:git"
"""`GIT_ALLOW_PROTOCOL`: no `ext::` (runs commands) or `file://` reaching outside the cache."""


def run_git(
    cwd: str,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    secrets: Sequence[str] = (),
    output_stream: Sink | None = None,
) -> str:
    """Run `git ARGS` in `cwd`; stdout as text. Raises `GitFetchError` with a redacted message.

    argv never holds a secret (credentials travel in `env`), so it is logged at debug level; the
    error text is still scrubbed of URL userinfo and of every known secret in case git echoes one.
    """
    command = ["git", *args]
    full_env = {"GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS, "LC_ALL": "C", **(env or {})}
    log.debug("git command", argv=redact_text(" ".join(command), *secrets))
    try:
        if output_stream is not None:
            git.Git(cwd).execute(
                command,
                env=full_env,
                kill_after_timeout=timeout,
                output_stream=output_stream,
            )
            return ""
        out = git.Git(cwd).execute(command, env=full_env, kill_after_timeout=timeout)
    except git.GitCommandError as error:
        stderr = error.stderr if isinstance(error.stderr, str) else str(error.stderr or "")
        detail = redact_text(stderr.strip().removeprefix("stderr:").strip(" '\n"), *secrets)
        if "did not complete in" in detail:  # GitPython's kill_after_timeout (echoes argv)
            raise GitFetchError(f"git {args[0]} timed out after {timeout or 0:g}s") from None
        reason = f"git {args[0]} failed"
        raise GitFetchError(f"{reason}: {detail or 'exit status ' + str(error.status)}") from None
    return str(out)


def git_dir_ok(path: str) -> bool:
    """A sanity check of a bare mirror: git accepts it as a repository (HEAD, objects, refs)."""
    if not os.path.isfile(os.path.join(path, "HEAD")):
        return False
    try:
        run_git(path, ["rev-parse", "--git-dir"], timeout=30)
    except GitFetchError:
        return False
    return True


def connectivity_ok(path: str) -> bool:
    """`git fsck --connectivity-only`: every ref reaches only objects that exist.

    Run after a failed fetch or read, not routinely: it walks the whole history.
    """
    try:
        run_git(path, ["fsck", "--connectivity-only", "--no-progress"], timeout=600)
    except GitFetchError:
        return False
    return True


def missing_objects(path: str, shas: Sequence[str]) -> list[str]:
    """Which of `shas` (commits the refs point at) have no object or no tree in the mirror.

    One `cat-file --batch-check` process for all refs: cheap enough to run after every fetch
    that moved refs. Plain `subprocess` because the query goes to stdin; local, so no secrets.
    """
    if not shas:
        return []
    query = "".join(f"{sha}^{{tree}}\n" for sha in shas)
    done = subprocess.run(
        ["git", "cat-file", "--batch-check=%(objectname)"],
        cwd=path,
        input=query.encode(),
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    )
    if done.returncode != 0:
        return list(shas)
    lines = done.stdout.decode().splitlines()
    return [sha for sha, line in zip(shas, lines, strict=False) if line.endswith(" missing")]
