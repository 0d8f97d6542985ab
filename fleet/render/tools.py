"""Locating helm/kustomize/kubectl and running them with a timeout, a cap, a bare environment
and, where the kernel has Landlock, confined to what the render may touch.

Why a bare environment: a render runs repository content (Helm templates, kustomize plugins are
off) and must never see the controller's credentials (KUBECONFIG, cloud tokens, git askpass), nor
reach a cluster. HOME and Helm's cache/config/data homes point into a fresh temp directory.

Why confinement (sandbox.py): the environment hides variables, not files or the network. Each
run reads only the trees its `Confinement` names (plus system files), writes only its temp
HOME and scratch copies, and connects over TCP only to the ports of remote bases the Project
allows. Its `git` is gitguard.py (https and ssh only, each URL checked against the Project).
Without Landlock the tool runs unconfined (the static checks in reach.py still apply) unless
`RenderTools.require_sandbox`, which makes every tool run a SandboxUnavailable error.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import structlog
from anyio.abc import ByteReceiveStream
from prometheus_client import CollectorRegistry, Gauge

from . import gitguard, sandbox
from .errors import (
    RENDER_FAILED,
    SANDBOX_UNAVAILABLE,
    TIMEOUT,
    TOO_LARGE,
    TOOL_MISSING,
    RenderError,
)

DEFAULT_BIN_DIR = Path(
    os.environ.get("FLEET_RENDER_BIN_DIR") or Path(__file__).resolve().parents[2] / ".cache" / "bin"
)
"""$FLEET_RENDER_BIN_DIR, else the source checkout's .cache/bin (tools/render-binaries): never
relative, so the directory the controller starts in cannot supply a `helm` to run."""
DEFAULT_TIMEOUT = 90.0
DEFAULT_OUTPUT_LIMIT = 64 * 1024 * 1024
_STDERR_LIMIT = 64 * 1024
_PATH = "/usr/local/bin:/usr/bin:/bin"

log = structlog.get_logger("fleet.render")


@dataclass(frozen=True)
class RenderTools:
    """Paths of the render binaries (None: not installed) and the limits for running them."""

    helm: Path | None = None
    kustomize: Path | None = None
    kubectl: Path | None = None
    timeout: float = DEFAULT_TIMEOUT
    output_limit: int = DEFAULT_OUTPUT_LIMIT
    require_sandbox: bool = False
    """Refuse to run a tool when Landlock is unavailable (`--require-render-sandbox`)."""

    @classmethod
    def discover(
        cls,
        bin_dir: Path | str | None = DEFAULT_BIN_DIR,
        *,
        path: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
    ) -> RenderTools:
        """Each tool from `bin_dir` first (built by tools/render-binaries), then from PATH.

        `path` overrides the PATH searched (os.environ's by default); "" searches nothing.
        """
        search = os.environ.get("PATH", "") if path is None else path

        def find(name: str) -> Path | None:
            if bin_dir is not None:
                candidate = Path(bin_dir) / name
                if candidate.is_file() and os.access(candidate, os.X_OK):
                    return candidate.resolve()
            found = shutil.which(name, path=search) if search else None
            return Path(found).resolve() if found else None

        return cls(
            helm=find("helm"),
            kustomize=find("kustomize"),
            kubectl=find("kubectl"),
            timeout=timeout,
            output_limit=output_limit,
        )


@dataclass(frozen=True)
class Confinement:
    """What one tool run may touch besides system files and its temp HOME (see sandbox.py)."""

    read: tuple[Path, ...] = ()
    """Trees it reads: the materialized repository, a scratch values directory."""
    write: tuple[Path, ...] = ()
    """Trees it writes: a scratch copy that `kustomize edit` changes."""
    connect: tuple[int, ...] = ()
    """TCP ports it may connect to: those of remote bases the Project permits; none else."""
    source_repos: tuple[str, ...] = ()
    """The Project's sourceRepos, for the render's `git` (gitguard.py)."""


def sandbox_status() -> tuple[int, str]:
    """(Landlock ABI, what a render is confined by) for the start-up log line and /metrics."""
    abi = sandbox.landlock_abi()
    if abi == 0:
        return 0, "static checks only (Landlock unavailable)"
    if abi < 4:
        return abi, "Landlock filesystem rules (no network rules before ABI 4) and static checks"
    return abi, "Landlock filesystem and TCP rules and static checks"


def report_sandbox(registry: CollectorRegistry, tools: RenderTools) -> int:
    """Say at start-up, in the log and as the gauge `fleet_render_sandbox_landlock_abi`, how
    render tools are confined: an operator must see when only the static checks stand
    between a repository and the controller's files. Returns the ABI (0: none)."""
    abi, how = sandbox_status()
    Gauge(
        "fleet_render_sandbox_landlock_abi",
        "Landlock ABI confining helm/kustomize runs; 0: none (static checks only)",
        registry=registry,
    ).set(abi)
    if abi:
        log.info("render.sandbox", landlock_abi=abi, confinement=how)
    elif tools.require_sandbox:
        log.error(
            "render.sandbox_unavailable",
            confinement=how,
            effect="every helm/kustomize render fails (--require-render-sandbox)",
        )
    else:
        log.warning(
            "render.sandbox_unavailable",
            confinement=how,
            hint="a kernel with Landlock (5.13+, ABI 4+ for network rules) confines renders; "
            "--require-render-sandbox refuses to render without it",
        )
    return abi


def _git_guard(scratch: Path, python: str) -> Path:
    """Write the render's `git` (`<scratch>/bin/git`, running gitguard.py with the controller's
    own Python through the link `<scratch>/py/fleet`); returns the fleet package directory."""
    package = Path(gitguard.__file__).resolve().parents[1]
    (scratch / "py").mkdir()
    (scratch / "py" / "fleet").symlink_to(package, target_is_directory=True)
    (scratch / "bin").mkdir()
    script = scratch / "bin" / "git"
    guard = scratch / "py" / "fleet" / "render" / "gitguard.py"
    script.write_text(
        f'#!/bin/sh\nexec {shlex.quote(python)} -I -S {shlex.quote(str(guard))} "$@"\n'
    )
    script.chmod(0o755)
    return package


def bare_environment(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a render subprocess: no inherited variables but a fixed PATH."""
    env = {
        "PATH": _PATH,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TMPDIR": str(home),
        "HELM_CACHE_HOME": str(home / "helm-cache"),
        "HELM_CONFIG_HOME": str(home / "helm-config"),
        "HELM_DATA_HOME": str(home / "helm-data"),
        "KUBECONFIG": str(home / "no-kubeconfig"),
    }
    env.update(extra or {})
    return env


async def _read_capped(stream: ByteReceiveStream, limit: int, sink: list[bytes]) -> bool:
    """Read a stream into `sink` up to `limit` bytes; True when more was available (truncated)."""
    size = 0
    async for chunk in stream:
        if size + len(chunk) > limit:
            sink.append(chunk[: limit - size])
            return True
        sink.append(chunk)
        size += len(chunk)
    return False


def _kill_group(pid: int) -> None:
    """SIGKILL the process group the tool leads (it was started in a new session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def run_tool(
    tool: Path | None,
    name: str,
    args: Sequence[str],
    *,
    cwd: Path,
    tools: RenderTools,
    extra_env: Mapping[str, str] | None = None,
    confine: Confinement | None = None,
) -> bytes:
    """Run `tool args...` in `cwd`; its stdout, or RenderError (ToolMissing, Timeout, ...).

    `confine` says what the run may touch (default: read `cwd`, nothing remote).
    anyio.open_process rather than run_process: the output is capped while it streams, so a
    chart that renders gigabytes cannot exhaust memory.
    """
    if tool is None:
        raise RenderError(TOOL_MISSING, f"{name} is not installed (tools/render-binaries/build.sh)")
    confine = confine or Confinement(read=(cwd,))
    abi = sandbox.landlock_abi()
    if abi == 0 and tools.require_sandbox:
        raise RenderError(
            SANDBOX_UNAVAILABLE,
            f"{name} not run: this kernel has no Landlock and the controller requires a render "
            "sandbox (--require-render-sandbox)",
        )
    with tempfile.TemporaryDirectory(prefix=f"fleet-{name}-") as scratch:
        home = Path(scratch) / "home"
        home.mkdir()
        python = os.path.realpath(sys.executable)
        fleet_package = _git_guard(Path(scratch), python)
        real_git = shutil.which("git", path=_PATH) or "/usr/bin/git"
        env = bare_environment(
            home,
            {
                "PATH": f"{Path(scratch) / 'bin'}:{_PATH}",
                "FLEET_GIT": real_git,
                "FLEET_GIT_ALLOWED": json.dumps(list(confine.source_repos)),
                "GIT_ALLOW_PROTOCOL": ":".join(gitguard.ALLOWED_TRANSPORTS),
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": "/dev/null",
                "GIT_TERMINAL_PROMPT": "0",
                "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
                **(extra_env or {}),
            },
        )
        command = [str(tool), *args]
        if abi > 0:
            command = sandbox.launcher_command(
                python,
                command,
                read=[str(p) for p in (cwd, *confine.read, fleet_package)],
                read_exec=[
                    str(tool),
                    str(Path(tool).resolve()),
                    str(Path(scratch) / "bin"),
                    str(Path(scratch) / "py"),
                    sys.base_prefix,
                    python,
                ],
                write=[str(home), *(str(p) for p in confine.write)],
                connect=confine.connect,
            )
        stdout: list[bytes] = []
        stderr: list[bytes] = []
        overflow = [False]
        finished = False

        async def drain_stdout(stream: ByteReceiveStream) -> None:
            if await _read_capped(stream, tools.output_limit, stdout):
                overflow[0] = True
                _kill_group(process.pid)

        async def drain_stderr(stream: ByteReceiveStream) -> None:
            if await _read_capped(stream, _STDERR_LIMIT, stderr):
                async for _ in stream:  # keep draining so the tool never blocks on a full pipe
                    pass

        try:
            with anyio.fail_after(tools.timeout):
                process = await anyio.open_process(
                    command,
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
                try:
                    async with anyio.create_task_group() as group:
                        assert process.stdout is not None and process.stderr is not None
                        group.start_soon(drain_stdout, process.stdout)
                        group.start_soon(drain_stderr, process.stderr)
                        await process.wait()
                    finished = True  # exited and both pipes closed: nothing left to kill
                finally:
                    if not finished:
                        # The whole session: a wrapper's children would keep the pipes open.
                        _kill_group(process.pid)
                    with anyio.CancelScope(shield=True):
                        await process.aclose()
        except TimeoutError:
            raise RenderError(
                TIMEOUT, f"{name} did not finish within {tools.timeout:g} s"
            ) from None
        except OSError as error:
            raise RenderError(TOOL_MISSING, f"cannot run {name} ({tool}): {error}") from None
        if overflow[0]:
            raise RenderError(TOO_LARGE, f"{name} output exceeds {tools.output_limit} bytes")
        if process.returncode != 0:
            message = b"".join(stderr).decode(errors="replace").strip()
            message = message.replace(str(cwd), ".") or f"exit status {process.returncode}"
            raise RenderError(RENDER_FAILED, f"{name} {args[0] if args else ''}: {message}")
        return b"".join(stdout)
