"""The scenario's config repository, served from the host to the kind clusters with
`git daemon` on the kind network's gateway address: the one host address every node container
reaches, and the hub's Pods through their node (the node image's CNI config masquerades).
Bound to that address only, not to every interface of the host."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from e2e.kind.images import Builder
from e2e.kind.proc import run

START_TIMEOUT = 30.0


class GitServeError(RuntimeError):
    """git daemon did not start; the message says where it tried to listen."""


def kind_gateway(builder: Builder, network: str = "kind") -> str:
    """The host's IPv4 address on the kind network."""
    raw = run(["docker", "network", "inspect", network], env=builder.env)
    for config in json.loads(raw)[0]["IPAM"]["Config"] or []:
        gateway = config.get("Gateway", "")
        if gateway and ":" not in gateway:
            return str(gateway)
    raise GitServeError(f"docker network {network} has no IPv4 gateway: {raw[:500]}")


def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


@dataclass
class GitServer:
    base: Path
    """Bare repositories `<name>.git` under this directory are served as git://ADDR:PORT/<name>.git"""
    address: str
    port: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def url(self, name: str) -> str:
        return f"git://{self.address}:{self.port}/{name}.git"

    def start(self, log: Path) -> None:
        self.port = self.port or free_port(self.address)
        with log.open("ab") as sink:
            self._proc = subprocess.Popen(
                [
                    "git",
                    "daemon",
                    "--reuseaddr",
                    "--export-all",
                    f"--base-path={self.base}",
                    f"--listen={self.address}",
                    f"--port={self.port}",
                    "--max-connections=64",
                    "--verbose",
                    str(self.base),
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.address, self.port), timeout=1):
                    return
            except OSError:
                if self._proc.poll() is not None:
                    break
                time.sleep(0.2)
        self.stop()
        raise GitServeError(f"git daemon did not listen on {self.address}:{self.port}: see {log}")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
            self._proc = None
