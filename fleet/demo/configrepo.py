"""The demo's git config repository: a bare repository served over HTTP, and a work tree.

Why HTTP and not a path: fleet's git layer refuses `file://` and local paths
(`GIT_ALLOW_PROTOCOL`), as a controller should: a repoURL must never read the controller's own
disk. So the bare repository is served on loopback by a small aiohttp app speaking git's "dumb"
HTTP protocol (static files plus `git update-server-info` after each push): no git daemon, no
extra process, and the repoURL is an ordinary `http://127.0.0.1:PORT/config.git`.

Commits are made in a work tree and pushed to the bare repository, as a person would.
GitPython calls block: call `create`/`commit` through `anyio.to_thread.run_sync`.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path

import git
from aiohttp import web

REPO_NAME = "config.git"
DEMO_GIT_PORT = 8478
"""The port the demo serves its repository on when free, so `examples/` can name the demo's
repository (`http://127.0.0.1:8478/config.git`) and be applied to the demo hub as they are."""
GIT_DIR = "git"
"""Under the workdir: the folder served over HTTP, holding the bare repository."""
CONFIG_DIR = "config"
"""Under the workdir: the work tree commits are made in."""
_GIT_CONFIG = ("-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null")


class ConfigRepo:
    """`<workdir>/git/config.git` (served) and `<workdir>/config` (the work tree to commit in)."""

    def __init__(self, workdir: Path) -> None:
        self.served = workdir / GIT_DIR
        self.bare = self.served / REPO_NAME
        self.work = workdir / CONFIG_DIR

    def create(self, files: Mapping[str, str], message: str = "Initial fleet demo config") -> str:
        """Make both repositories and push the first commit; returns its SHA."""
        self.served.mkdir(parents=True, exist_ok=True)
        git.Repo.init(self.bare, bare=True, initial_branch="main").close()
        self.work.mkdir(parents=True, exist_ok=True)
        repo = git.Repo.init(self.work, initial_branch="main")
        try:
            with repo.config_writer() as config:
                config.set_value("user", "name", "fleet demo")
                config.set_value("user", "email", "demo@fleet.invalid")
            repo.create_remote("origin", str(self.bare))
        finally:
            repo.close()
        return self.commit(files, message)

    def commit(self, files: Mapping[str, str], message: str) -> str:
        """Write `files` (path -> text), commit them, push to the served repository."""
        for relative, text in files.items():
            target = self.work / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        runner = git.Git(self.work)
        runner.execute(["git", *_GIT_CONFIG, "add", "--all"])
        runner.execute(["git", *_GIT_CONFIG, "commit", "--quiet", "--message", message])
        runner.execute(["git", *_GIT_CONFIG, "push", "--quiet", "origin", "HEAD:refs/heads/main"])
        git.Git(self.bare).execute(["git", "update-server-info"])
        return str(runner.execute(["git", "rev-parse", "HEAD"])).strip()

    def head(self) -> str:
        return str(git.Git(self.bare).execute(["git", "rev-parse", "main"])).strip()


class GitHttpServer:
    """Serves a folder of bare repositories read-only over git's dumb HTTP protocol."""

    def __init__(self, served: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.served = served.resolve()
        self.host = host
        self.wanted_port = port
        """Tried first; taken (another demo, another program) means an ephemeral port."""
        self.port = 0
        self._runner: web.AppRunner | None = None

    def url(self, name: str = REPO_NAME) -> str:
        return f"http://{self.host}:{self.port}/{name}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        relative = request.match_info["tail"]
        target = (self.served / relative).resolve()
        if not target.is_relative_to(self.served) or not target.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(target)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.+}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.wanted_port))
        except OSError:
            sock.bind((self.host, 0))
        self.port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
