"""Which remote repositories a render may fetch, and the `git` a render runs to fetch them.

kustomize fetches remote bases by running `git` from PATH (init, remote add, fetch, checkout,
submodule update). A render's PATH starts with a directory holding a `git` that runs this file
(`python -I -S <scratch>/py/fleet/render/gitguard.py ARGS...`): it re-checks every repository
URL git is asked to reach against the Application's Project (`sourceRepos`, passed in
FLEET_GIT_ALLOWED) and the
transports fleet allows (https and ssh only: never a local path, file://, plain http:// or a
remote helper such as ext::), then execs the real git (FLEET_GIT). The static checks in
reach.py see only the kustomizations in the repository; this sees the URLs of remote bases
nested inside remote bases too.

Standard library only, plus fleet.api.project (itself standard library only), so it runs under
`-S` inside the render sandbox.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from urllib.parse import urljoin, urlsplit

if __name__ == "__main__":
    # Run as a render's `git`, through a link `<scratch>/py/fleet` to the fleet package (the
    # sandbox lets Python list that directory, not the one fleet is installed in): import
    # fleet through the link, without site-packages.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from fleet.api.project import Project

ALLOWED_TRANSPORTS = ("https", "ssh")
_SCP = re.compile(r"^([^/\s:@]+@)?[^/\s:]+:(?!//)")
_HELPER = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)::")
_REFUSED_OPTIONS = (
    "-c",
    "--config",
    "--config-env",
    "--exec-path",
    "--template",
    "-u",
    "--upload-pack",
    "--receive-pack",
)
"""Options that set configuration, run a command or install hooks: never from a render."""
_VALUE_OPTIONS = {"-C", "--git-dir", "--work-tree", "--namespace"}
_REMOTE_COMMANDS = {"fetch", "pull", "ls-remote", "push", "archive"}
_FETCH_VALUE_OPTIONS = {"--depth", "--deepen", "--shallow-since", "--shallow-exclude", "-j"}


def transport(url: str) -> str:
    """How git would reach `url`: a scheme (`https`, `ssh`, `file`, `http`, ...), `ssh` for
    scp-like `user@host:path`, a remote helper's name (`ext::...`), `file` for a local path."""
    helper = _HELPER.match(url)
    if helper:
        return helper.group(1).lower()
    if "://" in url:
        scheme = url.split("://", 1)[0].lower()
        return "ssh" if scheme in ("git+ssh", "ssh+git") else scheme
    if _SCP.match(url):
        return "ssh"
    return "file"


def redact(url: str) -> str:
    """`url` without a password or token (user names of scp-like URLs are kept)."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None and not (parts.username and parts.scheme != "ssh"):
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return parts._replace(netloc=f"***@{host}{port}").geturl()


def transport_refusal(url: str) -> str | None:
    """Why no Project can allow fetching `url`, or None.

    A local path or file:// would read the controller's own disk (its mirrors of other
    teams' repositories), plain http:// is readable and forgeable on the wire, remote helpers
    (`ext::`) run commands, and credentials do not belong in a kustomization.
    """
    how = transport(url)
    if how not in ALLOWED_TRANSPORTS:
        shown = "a local path" if how == "file" and "://" not in url else f"{how}://"
        return f"{shown} is never fetched by a render (only https:// and ssh)"
    if how == "https" and urlsplit(url).username is not None:
        return "credentials in a remote URL are not allowed"
    return None


def refusal(url: str, source_repos: Sequence[str]) -> str | None:
    """Why a render may not fetch the repository `url`, or None when it may: the transport
    first (whatever the Project says, `*` included), then the Project's `sourceRepos`."""
    why = transport_refusal(url)
    if why is None and not Project(name="render", source_repos=tuple(source_repos)).permits_source(
        url
    ):
        why = "the repository is not permitted by the Project's sourceRepos"
    return why


# -- the `git` of a render --------------------------------------------------------------------


def _refuse(message: str) -> int:
    print(f"fleet: git refused in a render: {message}", file=sys.stderr)
    return 128


def _remote_url(git: str, name: str) -> str | None:
    found = subprocess.run(
        [git, "config", "--get", f"remote.{name}.url"],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() or None if found.returncode == 0 else None


def _positional(args: Sequence[str]) -> str | None:
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _FETCH_VALUE_OPTIONS:
            skip = True
        elif arg == "--":
            continue
        elif not arg.startswith("-"):
            return arg
    return None


def _submodule_urls(git: str) -> list[str]:
    found = subprocess.run(
        [git, "config", "-f", ".gitmodules", "--get-regexp", r"^submodule\..*\.url$"],
        capture_output=True,
        text=True,
        check=False,
    )
    origin = _remote_url(git, "origin") or ""
    urls = []
    for line in found.stdout.splitlines():
        url = line.split(None, 1)[1] if " " in line else ""
        if url.startswith(("./", "../")):
            # Relative to the superproject's remote (git's rule), which has a scheme here.
            url = urljoin(origin.rstrip("/") + "/", url) if "://" in origin else url
        urls.append(url)
    return urls


def guard(argv: Sequence[str], git: str, source_repos: Sequence[str]) -> list[str] | str:
    """The argv to exec for `git argv...`, or why it is refused."""
    args = list(argv)
    index = 0
    while index < len(args) and args[index].startswith("-"):
        option = args[index].split("=", 1)[0]
        if option in _REFUSED_OPTIONS:
            return f"option {option} is not allowed"
        index += 2 if option in _VALUE_OPTIONS and "=" not in args[index] else 1
    command = args[index] if index < len(args) else ""
    rest = args[index + 1 :]
    urls: list[str] = []
    for arg in rest:
        if arg.split("=", 1)[0] in _REFUSED_OPTIONS:
            return f"option {arg.split('=', 1)[0]} is not allowed"
    positional = [a for a in rest if not a.startswith("-")]
    if command == "clone" and positional:
        urls.append(positional[0])
    elif command == "remote" and positional[:1] in (["add"], ["set-url"]) and len(positional) > 2:
        urls.append(positional[2])
    elif command in _REMOTE_COMMANDS:
        target = _positional(rest) or "origin"
        url = _remote_url(git, target) if transport(target) == "file" else target
        urls.append(url if url is not None else target)
    elif command == "submodule":
        urls += _submodule_urls(git)
        # Nested submodules are cloned by git itself, not through this guard: not fetched.
        args = [a for a in args if a != "--recursive"]
    for url in dict.fromkeys(urls):
        why = refusal(url, source_repos)
        if why is not None:
            return f"{redact(url)}: {why}"
    return [git, *args]


def main(argv: Sequence[str]) -> int:
    git = os.environ.get("FLEET_GIT", "")
    if not git:
        return _refuse("FLEET_GIT is not set")
    try:
        allowed = json.loads(os.environ.get("FLEET_GIT_ALLOWED") or "[]")
    except ValueError:
        return _refuse("FLEET_GIT_ALLOWED is not a JSON list")
    decision = guard(argv, git, [str(p) for p in allowed])
    if isinstance(decision, str):
        return _refuse(decision)
    os.execv(git, decision)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
