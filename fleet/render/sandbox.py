"""Confine a render tool with Landlock, then exec it (standard library only).

Why: helm and kustomize run content from a repository. Static checks (reach.py) refuse the
references fleet can see, but a tool can still open any file the controller can (another
repository's mirror, a cluster's credentials in a temp file) or connect anywhere, through a
path or URL no check anticipated. Landlock lets an unprivileged process drop those rights for
itself and every process it starts, so the kernel refuses what the checks missed:

- read: the trees the render was given (`read`), the tool binary, system directories (libraries,
  CA certificates, resolver configuration), and the Python and fleet sources the git guard
  (gitguard.py) runs from;
- write: only `write` (the render's temp HOME, a scratch copy for `kustomize edit`);
- TCP: connect only to `connect` ports (empty unless the Project allows a remote base), bind
  nothing (ABI 4+); abstract unix sockets and signals scoped to the sandbox (ABI 6+).

Run as `python -I -S sandbox.py POLICY_JSON -- TOOL ARGS...` (tools.run_tool builds it): a
launcher process, because the restriction must be taken between fork and exec and anyio gives
no pre-exec hook. It imports nothing but the standard library (ctypes), so `-S` keeps it fast.
It fails closed: if the restriction cannot be taken it exits 126 and the tool never runs.

The three syscalls are bound with ctypes rather than PyPI's `landlock` (1.0.0.dev5): that
package has no network rules (ABI 4) nor scopes (ABI 6), and it is a development release.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from collections.abc import Iterable, Sequence
from functools import lru_cache

# Syscall numbers: the same on every architecture Linux gave new numbers after 5.1 (x86_64,
# arm64, ...).
_SYS_CREATE_RULESET = 444
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446
_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH = 1
_RULE_NET_PORT = 2
_PR_SET_NO_NEW_PRIVS = 38

# Filesystem rights, with the ABI that introduced them.
EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
"""The only rights a rule on a regular file (not a directory) may carry."""
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

READ = READ_FILE | READ_DIR
READ_EXEC = READ | EXECUTE
WRITE = (
    WRITE_FILE
    | REMOVE_DIR
    | REMOVE_FILE
    | MAKE_DIR
    | MAKE_REG
    | MAKE_SYM
    | MAKE_FIFO
    | MAKE_SOCK
    | REFER
    | TRUNCATE
)

SYSTEM_READ_EXEC = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
"""Programs and shared libraries (git, ssh, sh, libc, the dynamic loader)."""
SYSTEM_READ = (
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/nsswitch.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/passwd",
    "/etc/group",
    "/etc/ssh/ssh_config",
    "/etc/ssh/ssh_config.d",
    "/dev/urandom",
    "/dev/random",
    "/dev/zero",
    "/proc/self",
    "/sys/kernel/mm/transparent_hugepage",
)
"""What tools read at start-up or for TLS and name resolution: no /etc wholesale (it can hold
the controller's configuration), no /proc of other processes, no /var, /tmp, /home or /root."""
SYSTEM_WRITE = ("/dev/null",)


class SandboxError(Exception):
    """Landlock is missing or refused the ruleset (the tool is not run)."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPortAttr(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


@lru_cache(maxsize=1)
def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock is absent, disabled or blocked (an
    older kernel, `lsm=` without landlock, a seccomp profile refusing the syscall)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        libc = _libc()
        version = int(libc.syscall(_SYS_CREATE_RULESET, None, 0, _CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(version, 0)


def _fs_rights(abi: int) -> int:
    return _FS_BY_ABI[max(level for level in _FS_BY_ABI if level <= abi)]


def restrict(
    *,
    read: Iterable[str] = (),
    read_exec: Iterable[str] = (),
    write: Iterable[str] = (),
    connect: Iterable[int] = (),
) -> int:
    """Restrict this process (and what it executes) to the given paths and TCP ports.

    Paths that do not exist are skipped (system layouts differ). Returns the ABI used; raises
    SandboxError when Landlock is unavailable or a syscall fails.
    """
    abi = landlock_abi()
    if abi < 1:
        raise SandboxError("Landlock is not available in this kernel")
    libc = _libc()
    handled_fs = _fs_rights(abi)
    attr = _RulesetAttr(handled_access_fs=handled_fs)
    size = 8
    if abi >= 4:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL
        size = 24
    ruleset = int(libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), size, 0))
    if ruleset < 0:
        raise SandboxError(f"landlock_create_ruleset: {os.strerror(ctypes.get_errno())}")
    try:
        rules: list[tuple[str, int]] = [
            *((path, READ) for path in read),
            *((path, READ_EXEC) for path in read_exec),
            *((path, READ | WRITE) for path in write),
        ]
        for path, rights in rules:
            _add_path(libc, ruleset, path, rights & handled_fs)
        if abi >= 4:
            for port in sorted(set(connect)):
                rule = _NetPortAttr(allowed_access=NET_CONNECT_TCP, port=port)
                if libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_NET_PORT, ctypes.byref(rule), 0):
                    raise SandboxError(
                        f"landlock_add_rule(port {port}): {os.strerror(ctypes.get_errno())}"
                    )
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0):
            raise SandboxError(f"prctl(NO_NEW_PRIVS): {os.strerror(ctypes.get_errno())}")
        if libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0):
            raise SandboxError(f"landlock_restrict_self: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(ruleset)
    return abi


def _add_path(libc: ctypes.CDLL, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # absent on this system: nothing to allow
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        rule = _PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        if libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0):
            raise SandboxError(f"landlock_add_rule({path}): {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)


def launcher_command(
    python: str,
    tool_args: Sequence[str],
    *,
    read: Iterable[str] = (),
    read_exec: Iterable[str] = (),
    write: Iterable[str] = (),
    connect: Iterable[int] = (),
) -> list[str]:
    """The argv that runs `tool_args` confined: `python -I -S sandbox.py POLICY -- tool...`.

    The system directories are added here, so a caller names only what is particular to
    the render.
    """
    policy = {
        "read": [*SYSTEM_READ, *read],
        "read_exec": [*SYSTEM_READ_EXEC, *read_exec],
        "write": [*SYSTEM_WRITE, *write],
        "connect": sorted(set(connect)),
    }
    return [python, "-I", "-S", os.path.abspath(__file__), json.dumps(policy), "--", *tool_args]


def main(argv: Sequence[str]) -> int:
    """Restrict, then exec the tool (never returns on success)."""
    if len(argv) < 3 or argv[1] != "--":
        print("usage: sandbox.py POLICY_JSON -- TOOL [ARGS...]", file=sys.stderr)
        return 2
    policy = json.loads(argv[0])
    tool = list(argv[2:])
    try:
        restrict(
            read=policy.get("read", ()),
            read_exec=policy.get("read_exec", ()),
            write=policy.get("write", ()),
            connect=policy.get("connect", ()),
        )
    except SandboxError as error:
        print(f"fleet render sandbox: {error}; {tool[0]} not run", file=sys.stderr)
        return 126
    try:
        os.execv(tool[0], tool)
    except OSError as error:
        print(f"fleet render sandbox: cannot run {tool[0]}: {error.strerror}", file=sys.stderr)
        return 127
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
