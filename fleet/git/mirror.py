"""One bare mirror per repository: clone, fetch, refs, revision lookup (synchronous, one thread).

A mirror only ever changes through `clone` (built in a sibling temp directory, then renamed into
place, so a half-made clone is never mistaken for a mirror) and `fetch` (which updates refs only
after the objects they need are in). The refs read after a fetch are the snapshot every reader
resolves against, so one reconcile sees one set of SHAs however many fetches happen meanwhile.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field

from fleet.git.credentials import Credentials, TLSOptions, git_environment, secrets_of
from fleet.git.runner import Sink, run_git

REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
"""Branches and tags only: hosting-specific refs (GitHub's refs/pull/*) can be huge."""

_HEX = re.compile(r"^[0-9a-f]{4,40}$")


@dataclass(frozen=True, slots=True)
class RefSnapshot:
    """A mirror's refs at one moment: ref name -> commit SHA (annotated tags peeled)."""

    refs: Mapping[str, str] = field(default_factory=dict)
    head_ref: str = ""
    head: str = ""

    def lookup(self, revision: str) -> str | None:
        """Branch, tag, full ref name or HEAD -> commit SHA, from the snapshot (no git call).

        A branch wins over a tag of the same name, as in Argo CD (which takes the first match in
        the remote's sorted ref list: refs/heads before refs/tags).
        """
        if revision in ("", "HEAD"):
            return self.head or None
        for name in (revision, f"refs/heads/{revision}", f"refs/tags/{revision}"):
            sha = self.refs.get(name)
            if sha is not None and name.startswith("refs/"):
                return sha
        return None


@dataclass(frozen=True, slots=True)
class Remote:
    """Where and how to fetch: a credential-free URL and the credentials to present."""

    url: str
    credentials: Credentials | None = None
    timeout: float = 120.0
    tls: TLSOptions | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        return secrets_of(self.credentials, self.tls)


def clone(remote: Remote, path: str, *, temp_root: str | None = None) -> None:
    """A fresh bare clone at `path` (replacing whatever is there)."""
    parent = os.path.dirname(path)
    staging = tempfile.mkdtemp(prefix=".clone-", dir=parent)
    target = os.path.join(staging, "mirror.git")
    try:
        with git_environment(remote.credentials, tls=remote.tls, temp_root=temp_root) as env:
            run_git(
                parent,
                ["clone", "--bare", "--quiet", "--", remote.url, target],
                env=env,
                timeout=remote.timeout,
                secrets=remote.secrets,
            )
        remove(path)
        os.rename(target, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch(remote: Remote, path: str, *, temp_root: str | None = None) -> None:
    """Bring branches and tags up to date (deleted ones pruned)."""
    options = ["--quiet", "--prune", "--force", "--no-write-fetch-head"]
    with git_environment(remote.credentials, tls=remote.tls, temp_root=temp_root) as env:
        run_git(
            path,
            ["fetch", *options, "--", remote.url, *REFSPECS],
            env=env,
            timeout=remote.timeout,
            secrets=remote.secrets,
        )


def read_refs(path: str) -> RefSnapshot:
    """All branches and tags with their commits, and what HEAD points at. Local, cheap."""
    out = run_git(
        path,
        [
            "for-each-ref",
            "--format=%(refname)%00%(objectname)%00%(*objectname)%00%(objecttype)",
            "refs/heads",
            "refs/tags",
        ],
        timeout=60,
    )
    refs: dict[str, str] = {}
    for line in out.splitlines():
        name, sha, peeled, kind = line.split("\0")
        if kind == "tag" and peeled:
            refs[name] = peeled
        elif kind == "commit":
            refs[name] = sha
    head_ref = _head_ref(path)
    head = refs.get(head_ref, "")
    if not head and refs:
        head_ref = next((name for name in sorted(refs) if name.startswith("refs/heads/")), "")
        head = refs.get(head_ref, "")
    return RefSnapshot(refs=refs, head_ref=head_ref, head=head)


def _head_ref(path: str) -> str:
    """What HEAD points at, read from the file (one process less per poll than symbolic-ref)."""
    try:
        with open(os.path.join(path, "HEAD"), encoding="utf-8") as handle:
            content = handle.read(4096).strip()
    except OSError:
        return ""
    return content.removeprefix("ref:").strip() if content.startswith("ref:") else ""


def looks_like_sha(revision: str) -> bool:
    return _HEX.match(revision.lower()) is not None


def find_commit(path: str, revision: str) -> str | None:
    """A full or short SHA -> the full commit SHA, or None (unknown or ambiguous)."""
    if not looks_like_sha(revision):
        return None
    try:
        out = run_git(
            path, ["rev-parse", "--verify", "--quiet", f"{revision.lower()}^{{commit}}"], timeout=30
        )
    except Exception:
        return None
    sha = out.strip()
    return sha if len(sha) == 40 else None


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """Who made a commit, when, and its subject line (the dashboard shows them)."""

    sha: str
    author: str
    date: str
    """ISO 8601, the author date."""
    subject: str


def commit_info(path: str, sha: str) -> CommitInfo | None:
    """The commit `sha` of the mirror at `path`, None when it is not there (never fetches)."""
    if not looks_like_sha(sha):
        return None
    try:
        out = run_git(
            path,
            ["show", "-s", "--format=%H%x00%an%x00%aI%x00%s", f"{sha.lower()}^{{commit}}"],
            timeout=30,
        )
    except Exception:
        return None
    parts = out.strip().split("\0")
    if len(parts) != 4:
        return None
    return CommitInfo(parts[0], parts[1][:200], parts[2], parts[3][:500])


def archive(path: str, treeish: str, out: Sink) -> None:
    """`git archive --format=tar TREEISH` written to `out` (a subtree when TREEISH is SHA:path)."""
    run_git(path, ["archive", "--format=tar", treeish], timeout=600, output_stream=out)


def remove(path: str) -> None:
    """Delete a mirror: renamed aside first so a concurrent reader never sees half of one."""
    if not os.path.exists(path):
        return
    trash = tempfile.mkdtemp(prefix=".trash-", dir=os.path.dirname(path))
    os.rename(path, os.path.join(trash, "old"))
    shutil.rmtree(trash, ignore_errors=True)
