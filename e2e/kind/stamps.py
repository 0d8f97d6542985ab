"""Stages with stamps: a stage whose inputs did not change since it last succeeded is skipped.

A stamp is a file holding the hash of a stage's inputs (file contents, versions, image IDs it
builds on), written only after the stage succeeded. Every stage is timed, skipped or not, so a
run can print what it cost stage by stage (cold and warm figures in e2e/README.md come from it).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from e2e.kind.proc import say


def digest(*parts: str | bytes | Path) -> str:
    """A short hash of strings, bytes, and files or directories (their paths and contents)."""
    hasher = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            files = sorted(p for p in part.rglob("*") if p.is_file()) if part.is_dir() else [part]
            for path in files:
                hasher.update(str(path.relative_to(part.parent)).encode())
                hasher.update(path.read_bytes())
        elif isinstance(part, str):
            hasher.update(part.encode())
        else:
            hasher.update(part)
        hasher.update(b"\0")
    return hasher.hexdigest()[:20]


@dataclass
class StageTimes:
    """How long each stage took in this run and whether it was up to date."""

    rows: list[tuple[str, float, bool]] = field(default_factory=list)

    def add(self, name: str, seconds: float, fresh: bool) -> None:
        self.rows.append((name, seconds, fresh))

    def table(self) -> str:
        lines = [f"{'stage':<28} {'seconds':>8}  state"]
        for name, seconds, fresh in self.rows:
            lines.append(f"{name:<28} {seconds:>8.1f}  {'up to date' if fresh else 'built/ran'}")
        return "\n".join(lines)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [{"stage": n, "seconds": round(s, 1), "up_to_date": f} for n, s, f in self.rows]
        path.write_text(json.dumps(rows, indent=2) + "\n")


@dataclass
class Stages:
    stamp_dir: Path
    times: StageTimes = field(default_factory=StageTimes)

    def run(
        self,
        name: str,
        key: str,
        build: Callable[[], object],
        *,
        outputs_exist: Callable[[], bool] = lambda: True,
    ) -> None:
        """Run `build` unless the stamp for `name` holds `key` and `outputs_exist()`."""
        stamp = self.stamp_dir / name
        started = time.monotonic()
        if stamp.exists() and stamp.read_text() == key and outputs_exist():
            self.times.add(name, time.monotonic() - started, True)
            say(f"{name}: up to date")
            return
        say(f"{name}: building")
        stamp.unlink(missing_ok=True)
        build()
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(key)
        seconds = time.monotonic() - started
        self.times.add(name, seconds, False)
        say(f"{name}: done in {seconds:.0f} s")

    def timed(self, name: str, action: Callable[[], object]) -> None:
        """A step without a stamp (cluster creation, the scenario), timed like the others."""
        started = time.monotonic()
        action()
        self.times.add(name, time.monotonic() - started, False)


def files_key(paths: Iterable[Path], *extra: str) -> str:
    return digest(*extra, *paths)
