#!/usr/bin/python3
"""A runc wrapper that drops the capabilities this host cannot grant, then runs the real runc.

Why: on some hosts (this project's CI machines among them) the kernel's capability bounding set
lacks bits (CAP_SYS_RESOURCE), and runc fails every privileged container with "unable to apply
caps: operation not permitted". kind nodes are privileged containers. The private dockerd is
started with this file as its default runtime only where /proc/self/status shows such a gap
(e2e/kind/host.py decides); elsewhere Docker's own runc is used unchanged.

It rewrites the OCI bundle's config.json (`create`/`run --bundle DIR`) and exec's process file
(`exec --process FILE`) in place, keeping only capabilities inside the bounding set, and then
execs runc with the same arguments. Standard library only: it runs under the system python3.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

REAL_RUNC = os.environ.get("FLEET_KIND_REAL_RUNC", "/usr/bin/runc")

# Linux capability numbers (include/uapi/linux/capability.h).
CAPABILITIES = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
]


def bounding_set(status: str) -> int:
    """CapBnd of a /proc/<pid>/status text, as a bit mask."""
    for line in status.splitlines():
        if line.startswith("CapBnd:"):
            return int(line.split()[1], 16)
    raise ValueError("no CapBnd line in /proc/self/status")


def allowed(name: str, mask: int) -> bool:
    """Whether capability `name` (CAP_X) is in `mask`; unknown names are kept (runc decides)."""
    short = name.removeprefix("CAP_")
    if short not in CAPABILITIES:
        return True
    return bool(mask >> CAPABILITIES.index(short) & 1)


def filter_process(process: dict[str, Any], mask: int) -> None:
    caps = process.get("capabilities")
    if not isinstance(caps, dict):
        return
    for kind, names in caps.items():
        if isinstance(names, list):
            caps[kind] = [n for n in names if not isinstance(n, str) or allowed(n, mask)]


def rewrite(path: Path, mask: int, *, whole_config: bool) -> None:
    doc = json.loads(path.read_text())
    filter_process(doc.get("process") or {} if whole_config else doc, mask)
    path.write_text(json.dumps(doc))


def option(argv: list[str], *names: str) -> str | None:
    """The value of `--bundle X`, `--bundle=X`, `-b X` style options."""
    for index, arg in enumerate(argv):
        for name in names:
            if arg == name and index + 1 < len(argv):
                return argv[index + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def main(argv: list[str]) -> None:
    mask = bounding_set(Path("/proc/self/status").read_text())
    bundle = option(argv, "--bundle", "-b")
    if bundle and (Path(bundle) / "config.json").exists():
        rewrite(Path(bundle) / "config.json", mask, whole_config=True)
    process = option(argv, "--process", "-p")
    if "exec" in argv and process and Path(process).exists():
        rewrite(Path(process), mask, whole_config=False)
    os.execv(REAL_RUNC, [REAL_RUNC, *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
