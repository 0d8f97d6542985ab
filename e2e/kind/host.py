"""What the host must provide, and the two host fixes, each applied only where it is needed.

- Debian packages: docker.io (dockerd), containerd, runc, debootstrap, iptables, busybox-static.
  Installed with apt-get when missing and this process is root; otherwise `missing_reason`
  says what is missing so the test suite can skip with that reason.
- inotify: every kind node runs a kubelet and systemd, each holding inotify instances; the kernel's
  default of 128 per user runs out at about five nodes. Raised only when below what we need.
- The capability filter (capfilter.py): only when the bounding set lacks capabilities Docker
  grants privileged containers.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from e2e.kind.capfilter import CAPABILITIES, bounding_set
from e2e.kind.proc import run, say

PACKAGES = {
    # package: a file it installs (checked instead of asking dpkg, which may not exist)
    "docker.io": "/usr/sbin/dockerd",
    "containerd": "/usr/bin/containerd",
    "runc": "/usr/bin/runc",
    "debootstrap": "/usr/sbin/debootstrap",
    "iptables": "/usr/sbin/iptables",
    "busybox-static": "/bin/busybox",
    "gcc": "/usr/bin/gcc",  # the pause binary, from the C source in the Kubernetes module
    "libc6-dev": "/usr/include/stdio.h",
}
INOTIFY_NEED = {"fs.inotify.max_user_instances": 8192, "fs.inotify.max_user_watches": 524288}


class HostError(RuntimeError):
    """The host cannot run the kind harness; the message says why and what would fix it."""


def missing_packages() -> list[str]:
    return [name for name, path in PACKAGES.items() if not Path(path).exists()]


def missing_reason() -> str | None:
    """Why the kind harness cannot run here, or None. Checked before anything is built."""
    if os.name != "posix" or not Path("/proc/self/status").exists():
        return "the kind harness needs Linux"
    if os.geteuid() != 0:
        return (
            "the kind harness starts its own Docker engine, which needs root "
            f"(running as uid {os.geteuid()})"
        )
    missing = missing_packages()
    if missing and shutil.which("apt-get") is None:
        return f"the kind harness needs Debian packages {' '.join(missing)} and there is no apt-get"
    if shutil.which("go") is None:
        return "the kind harness builds kind and Kubernetes from Go modules: `go` is not on PATH"
    return None


def install_packages(log: Path) -> None:
    missing = missing_packages()
    if not missing:
        return
    say(f"installing Debian packages: {' '.join(missing)}")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-q"], env=env, log=log, timeout=900)
    run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
        env=env,
        log=log,
        timeout=1800,
    )


def raise_inotify_limits() -> None:
    for key, need in INOTIFY_NEED.items():
        path = Path("/proc/sys") / key.replace(".", "/")
        have = int(path.read_text().split()[0])
        if have >= need:
            continue
        say(f"host fix: {key} is {have}, below the {need} kind nodes need: raising it")
        path.write_text(str(need))


@dataclass(frozen=True)
class Capabilities:
    missing: tuple[str, ...]

    @property
    def need_filter(self) -> bool:
        return bool(self.missing)


def host_capabilities() -> Capabilities:
    mask = bounding_set(Path("/proc/self/status").read_text())
    lost = tuple(f"CAP_{n}" for i, n in enumerate(CAPABILITIES) if not mask >> i & 1)
    return Capabilities(lost)
