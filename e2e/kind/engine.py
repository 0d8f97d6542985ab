"""A private Docker engine for the harness: Debian's dockerd with its own data root, exec root,
pidfile and unix socket under .cache/kind/engine, so a user's own Docker (its images, containers,
networks, socket) is never touched, and stopped by the PID in its pidfile.

It has no default bridge (`--bridge none`): builds use the host network, kind creates its own
network. Its address pool (10.213.0.0/16) keeps kind's network clear of a user's Docker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from e2e.kind.layout import Layout
from e2e.kind.proc import NICE, CommandError, run, say

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
RUNTIME = "fleet-capfilter"


class EngineError(RuntimeError):
    """The private dockerd did not start or stop; the message points at its log."""


@dataclass(frozen=True)
class PrivateEngine:
    layout: Layout

    @property
    def host(self) -> str:
        return f"unix://{self.layout.socket}"

    @property
    def env(self) -> dict[str, str]:
        """Environment for docker and kind: this engine, BuildKit off (Debian's 20.10 dockerd
        builds classic Dockerfiles; nothing here needs BuildKit)."""
        return {"DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "0"}

    @property
    def pidfile(self) -> Path:
        return self.layout.engine / "dockerd.pid"

    @property
    def log(self) -> Path:
        return self.layout.logs / "dockerd.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def responding(self) -> bool:
        try:
            run(["docker", "version", "--format", "{{.Server.Version}}"], env=self.env, timeout=20)
        except CommandError:
            return False
        return True

    def start(self, *, capfilter: Path | None, low_priority: bool = False) -> bool:
        """Start dockerd unless ours already answers; `capfilter` makes it the default runtime.
        True when this call started it (and so its caller should stop it).

        `low_priority` starts it under NICE: image builds run in containers, children of
        dockerd, not of the `docker build` client, so niceness has to start at the engine."""
        if self.pid() is not None and self.responding():
            say(f"private dockerd already running (pid {self.pid()}, {self.host})")
            return False
        engine = self.layout.engine
        for sub in ("data", "exec"):
            (engine / sub).mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        args = [
            *(NICE if low_priority else ()),
            "dockerd",
            f"--data-root={engine / 'data'}",
            f"--exec-root={engine / 'exec'}",
            f"--pidfile={self.pidfile}",
            f"--host={self.host}",
            "--bridge=none",
            "--default-address-pool=base=10.213.0.0/16,size=24",
            "--storage-driver=overlay2",
            "--exec-opt=native.cgroupdriver=cgroupfs",
        ]
        if capfilter is not None:
            args += [f"--add-runtime={RUNTIME}={capfilter}", f"--default-runtime={RUNTIME}"]
        say(f"starting a private dockerd on {self.host} (log: {self.log})")
        with self.log.open("ab") as sink:
            # Its own session: a Ctrl-C in the terminal running the tests does not reach it
            # half-way through a cleanup; stop() ends it by PID.
            subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.layout.socket.exists() and self.responding():
                return True
            time.sleep(0.5)
        raise EngineError(
            f"dockerd did not answer on {self.host} in {START_TIMEOUT:g} s: see {self.log}"
        )

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            return
        say(f"stopping the private dockerd (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            if _exited(pid):
                break
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
            _exited(pid)
        self._unmount_leftovers()

    def _unmount_leftovers(self) -> None:
        """dockerd leaves its default network namespace bind-mounted under the exec root;
        unmounted so `rm -rf .cache` works after the engine is gone."""
        netns = self.layout.engine / "exec" / "netns" / "default"
        if os.path.ismount(netns) or f" {netns} " in Path("/proc/mounts").read_text():
            try:
                run(["umount", str(netns)], timeout=30)
            except CommandError as error:
                say(f"could not unmount {netns}: {error}")


def _exited(pid: int) -> bool:
    """Whether `pid` is gone. A dockerd this process started stays a zombie (and answers
    kill(pid, 0)) until it is reaped, so reap it when it is our child."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return True
    except ChildProcessError:
        pass  # not our child: its own parent reaps it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
