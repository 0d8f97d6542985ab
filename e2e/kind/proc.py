"""Running the tools the harness drives (docker, kind, kubectl, go, debootstrap) as subprocesses.

One place decides how a command is logged, how long it may take and what a failure says, so every
stage fails with the command, its exit code and the end of its output instead of a traceback.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

NICE = ("nice", "-n", "19", "ionice", "-c3")
"""Heavy build steps run at the lowest CPU and I/O priority: the machine is shared."""


class CommandError(RuntimeError):
    """A command exited non-zero or timed out; the message quotes it and its output's tail."""


def say(message: str) -> None:
    """Progress for the person (or CI log) watching: one line on stderr, unbuffered."""
    print(f"==> {message}", file=sys.stderr, flush=True)


def run(
    args: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    input: bytes | None = None,
    timeout: float = 600.0,
    heavy: bool = False,
    capture: bool = True,
    log: Path | None = None,
) -> str:
    """Run `args` and return its stdout (text). `heavy` prefixes NICE; `env` is added to this
    process's environment; `log` appends the command's output to a file instead of capturing it
    (long builds, whose output is only wanted when they fail)."""
    argv = [*(NICE if heavy else ()), *map(str, args)]
    full_env = {**os.environ, **(env or {})}
    started = time.monotonic()
    try:
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("ab") as sink:
                sink.write(f"$ {shlex.join(argv)}\n".encode())
                sink.flush()
                done = subprocess.run(
                    argv,
                    env=full_env,
                    cwd=cwd,
                    input=input,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    check=False,
                )
            output = b""
            tail = _tail(log)
        else:
            done = subprocess.run(
                argv,
                env=full_env,
                cwd=cwd,
                input=input,
                timeout=timeout,
                check=False,
                stdout=subprocess.PIPE if capture else None,
                stderr=subprocess.PIPE if capture else None,
            )
            output = done.stdout or b""
            tail = ((done.stderr or b"") + output).decode(errors="replace")[-3000:]
    except subprocess.TimeoutExpired:
        raise CommandError(
            f"`{shlex.join(argv)}` did not finish in {timeout:g} s"
            + (f" (output: {log})" if log else "")
        ) from None
    except FileNotFoundError as error:
        raise CommandError(f"`{argv[0]}` is not installed: {error}") from None
    if done.returncode != 0:
        raise CommandError(
            f"`{shlex.join(argv)}` exited {done.returncode} after "
            f"{time.monotonic() - started:.0f} s:\n{tail.strip()}"
        )
    return output.decode(errors="replace")


def _tail(path: Path, size: int = 3000) -> str:
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - size))
        return handle.read().decode(errors="replace")
