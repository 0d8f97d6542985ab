"""Real repositories served on loopback: `git daemon` and `git http-backend` behind aiohttp."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import ssl
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import git
from aiohttp import web


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"port {port} did not open")


class GitDaemon:
    """`git daemon` exporting every repository under `base`; can be stopped and restarted."""

    def __init__(self, base: Path, port: int | None = None) -> None:
        self.base = base
        self.port = port or free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}.git"

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                f"--base-path={self.base}",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                "--max-connections=64",
                str(self.base),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None


class Upstream:
    """A bare repository under the server's base directory plus a work tree that pushes to it."""

    def __init__(self, base: Path, name: str) -> None:
        self.bare = base / f"{name}.git"
        self.work = base.parent / "work" / name
        git.Repo.init(self.bare, bare=True, initial_branch="main").close()
        self.work.mkdir(parents=True)
        repo = git.Repo.init(self.work, initial_branch="main")
        with repo.config_writer() as config:
            config.set_value("user", "name", "fleet tests")
            config.set_value("user", "email", "tests@fleet.invalid")
        repo.create_remote("origin", str(self.bare))
        repo.close()

    def commit(
        self, files: Mapping[str, str], message: str = "change", *, symlinks: Mapping[str, str] = {}
    ) -> str:
        repo = git.Repo(self.work)
        try:
            for relative, content in files.items():
                target = self.work / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content)
            for relative, link_target in symlinks.items():
                target = self.work / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(link_target, target)
            repo.git.add(A=True)
            repo.git.commit("-q", "--allow-empty", "-m", message)
            repo.git.push("-q", "origin", "HEAD:refs/heads/main", "--tags")
            return str(repo.head.commit.hexsha)
        finally:
            repo.close()

    def git(self, *args: str) -> str:
        repo = git.Repo(self.work)
        try:
            return str(repo.git.execute(["git", *args]))
        finally:
            repo.close()


class HttpBackend:
    """`git http-backend` (smart HTTP) behind a tiny aiohttp CGI bridge requiring basic auth."""

    def __init__(self, base: Path, username: str, password: str) -> None:
        self.base = base
        basic = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.accepted = {basic, f"Bearer {password}"}
        self.port = 0
        self.requests = 0
        self.scheme = "http"
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if request.headers.get("Authorization") not in self.accepted:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="git"'})
        body = await request.read()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.base),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": request.method,
            "PATH_INFO": request.path,
            "QUERY_STRING": request.query_string,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "tester",
            "REMOTE_ADDR": "127.0.0.1",
        }
        if "Git-Protocol" in request.headers:
            env["HTTP_GIT_PROTOCOL"] = request.headers["Git-Protocol"]
        proc = await asyncio.create_subprocess_exec(
            "git",
            "http-backend",
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await proc.communicate(body)
        head, _, payload = out.partition(b"\r\n\r\n")
        status = 200
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers[name.strip()] = value.strip()
        headers.pop("Content-Length", None)
        return web.Response(status=status, body=payload, headers=headers)

    def url(self, name: str, userinfo: str = "") -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"{self.scheme}://{at}127.0.0.1:{self.port}/{name}.git"

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.scheme = "https" if ssl_context is not None else "http"
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
