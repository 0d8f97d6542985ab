"""Where the harness keeps what it builds: all under the checkout's .cache (ignored by git).

.cache/bin holds the Kubernetes binaries (e2e/apiserver/build.sh, shared with the real-apiserver
harness); .cache/kind holds the rest: kind itself, the private Docker engine's state, the
debootstrap root, build contexts, stamps and logs.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Layout:
    root: Path = ROOT

    @property
    def cache(self) -> Path:
        return self.root / ".cache" / "kind"

    @property
    def kube_bin(self) -> Path:
        """The Kubernetes binaries, built once for both the kind and the real-apiserver harness."""
        return self.root / ".cache" / "bin"

    @property
    def bin(self) -> Path:
        """kind, the runc capability filter, the pause binary, CoreDNS."""
        return self.cache / "bin"

    @property
    def engine(self) -> Path:
        """The private dockerd's data root, exec root, pidfile, socket and log."""
        return self.cache / "engine"

    @property
    def socket(self) -> Path:
        return self.engine / "docker.sock"

    @property
    def stamps(self) -> Path:
        return self.cache / "stamps"

    @property
    def logs(self) -> Path:
        return self.cache / "logs"

    @property
    def work(self) -> Path:
        """Scratch space: the debootstrap root, image build contexts."""
        return self.cache / "work"

    @property
    def kind_dir(self) -> Path:
        """This directory: Dockerfiles, the kind config, the pinned Go modules."""
        return self.root / "e2e" / "kind"


@contextmanager
def harness_lock(layout: Layout) -> Iterator[None]:
    """One harness user per checkout at a time (a build, a test session, `up`): they share the
    private engine, and whoever started it stops it when done. A second one waits here."""
    layout.cache.mkdir(parents=True, exist_ok=True)
    with (layout.cache / "harness.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
