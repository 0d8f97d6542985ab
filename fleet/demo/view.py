"""What the demo shows: every Application as a row, a progress count and the steps so far.

Two faces over one model. `LiveView` (a terminal, no `--once`) redraws a rich table about four
times a second; `PlainView` (a pipe, a file, `--once`) prints one plain line per change, with no
ANSI codes, so scripts and CI logs stay readable and greppable.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

SYNCED = "Synced"
HEALTHY = "Healthy"
REFRESH_PER_SECOND = 4
WIDTH = 80
"""Columns every line of the demo fits in (a default terminal)."""

_SYNC_STYLE = {"Synced": "green", "OutOfSync": "yellow", "Unknown": "dim"}
_HEALTH_STYLE = {
    "Healthy": "green",
    "Progressing": "cyan",
    "Degraded": "red",
    "Suspended": "magenta",
    "Missing": "yellow",
    "Unknown": "dim",
}


@dataclass(frozen=True)
class AppRow:
    """One Application as the view shows it."""

    name: str
    cluster: str
    sync: str
    health: str
    revision: str
    """The first 7 characters of status.sync.revision, or "" before the first comparison."""

    @property
    def ready(self) -> bool:
        return self.sync == SYNCED and self.health == HEALTHY


def app_row(app: Mapping[str, Any], cluster_names: Mapping[str, str]) -> AppRow:
    """An Application object -> its row; the destination is shown by cluster name."""
    spec = app.get("spec") or {}
    status = app.get("status") or {}
    destination = spec.get("destination") or {}
    server = str(destination.get("server") or "")
    cluster = cluster_names.get(server) or str(destination.get("name") or server or "-")
    sync = status.get("sync") or {}
    health = status.get("health") or {}
    return AppRow(
        name=str((app.get("metadata") or {}).get("name", "?")),
        cluster=cluster,
        sync=str(sync.get("status") or "Unknown"),
        health=str(health.get("status") or "Unknown"),
        revision=str(sync.get("revision") or "")[:7],
    )


def app_rows(apps: Iterable[Mapping[str, Any]], cluster_names: Mapping[str, str]) -> list[AppRow]:
    """Rows sorted by application name."""
    return sorted((app_row(app, cluster_names) for app in apps), key=lambda row: row.name)


def progress_text(rows: list[AppRow], expected: int, target: str = "") -> str:
    """`N/M Synced and Healthy`, counting only Applications at `target` (the commit the
    running step rolls out) when one is given: an Application still Synced at the previous
    commit has not rolled out yet."""
    total = max(expected, len(rows))
    done = sum(row.ready and (not target or row.revision == target[:7]) for row in rows)
    return f"{done}/{total} Synced and Healthy" + (f" at {target[:7]}" if target else "")


@dataclass
class Step:
    title: str
    detail: str = ""
    state: str = "pending"
    """pending, running, done or failed."""


_STEP_MARK = {"pending": " ", "running": ">", "done": "+", "failed": "x"}
_STEP_STYLE = {"pending": "dim", "running": "bold cyan", "done": "green", "failed": "bold red"}


def step_line(number: int, step: Step) -> str:
    text = f"{_STEP_MARK[step.state]} {number}. {step.title}"
    return f"{text}: {step.detail}" if step.detail else text


def build_table(rows: list[AppRow]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False, expand=False)
    for column in ("APPLICATION", "CLUSTER", "SYNC", "HEALTH", "REVISION"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(
            row.name,
            row.cluster,
            Text(row.sync, style=_SYNC_STYLE.get(row.sync, "")),
            Text(row.health, style=_HEALTH_STYLE.get(row.health, "")),
            row.revision or "-",
        )
    return table


def build_view(
    title: str, steps: list[Step], rows: list[AppRow], expected: int, target: str = ""
) -> RenderableType:
    """The whole live screen: title, steps, the table, the progress line."""
    parts: list[RenderableType] = [Text(title, style="bold")]
    parts += [
        Text(step_line(i, step), style=_STEP_STYLE[step.state])
        for i, step in enumerate(steps, start=1)
    ]
    parts += [Text(""), build_table(rows), Text("")]
    progress = progress_text(rows, expected, target)
    done, total = (int(n) for n in progress.split(" ", 1)[0].split("/"))
    style = "bold green" if total and done == total else "bold yellow"
    parts.append(Text(progress, style=style))
    return Group(*parts)


class DemoView(Protocol):
    """What the demo reports to; a view never blocks and never raises on display."""

    def note(self, text: str) -> None: ...

    def set_steps(self, steps: list[Step]) -> None: ...

    def step_changed(self, number: int) -> None: ...

    def update(self, rows: list[AppRow]) -> None: ...

    def set_target(self, revision: str) -> None:
        """The commit the running step rolls out: the progress counts only rows at it."""
        ...

    def block(self, lines: list[str]) -> None:
        """Lines to copy from (commands, paths): printed as they are, never wrapped."""
        ...


class PlainView:
    """One line per change, elapsed seconds first, no colour: for pipes, files and `--once`."""

    def __init__(self, out: TextIO, expected: int) -> None:
        self.out = out
        self.expected = expected
        self.steps: list[Step] = []
        self._start = time.monotonic()
        self._last: dict[str, AppRow] = {}
        self._last_progress = ""
        self._rows: list[AppRow] = []
        self.target = ""

    def __enter__(self) -> PlainView:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def _print(self, text: str) -> None:
        stamp = f"[{time.monotonic() - self._start:6.1f}s] "
        lines = textwrap.wrap(
            text,
            WIDTH,
            initial_indent=stamp,
            subsequent_indent=" " * len(stamp),
            break_on_hyphens=False,
            break_long_words=False,  # a path stays whole, to be copied
        )
        self.out.write("\n".join(lines or [stamp.rstrip()]) + "\n")
        self.out.flush()

    def note(self, text: str) -> None:
        self._print(text)

    def set_steps(self, steps: list[Step]) -> None:
        self.steps = steps

    def step_changed(self, number: int) -> None:
        step = self.steps[number - 1]
        if step.state != "pending":
            self._print(step_line(number, step).lstrip())

    def set_target(self, revision: str) -> None:
        self.target = revision
        self.update(self._rows)

    def block(self, lines: list[str]) -> None:
        self.out.write("".join(f"{line}\n" for line in lines))
        self.out.flush()

    def update(self, rows: list[AppRow]) -> None:
        self._rows = rows
        for row in rows:
            if self._last.get(row.name) != row:
                self._last[row.name] = row
                self._print(
                    f"{row.name:<24} {row.cluster:<11} {row.sync:<9} {row.health:<11} "
                    f"{row.revision or '-'}"
                )
        progress = progress_text(rows, self.expected, self.target)
        if progress != self._last_progress:
            self._last_progress = progress
            self._print(progress)


class LiveView:
    """A rich Live screen redrawn ~4x/s from the latest rows and steps; use as a context."""

    def __init__(self, console: Console, title: str, expected: int) -> None:
        self.console = console
        self.title = title
        self.expected = expected
        self.steps: list[Step] = []
        self.rows: list[AppRow] = []
        self.target = ""
        self._live: Live | None = None

    def renderable(self) -> RenderableType:
        return build_view(self.title, self.steps, self.rows, self.expected, self.target)

    def __enter__(self) -> LiveView:
        self._live = Live(
            get_renderable=self.renderable,
            console=self.console,
            refresh_per_second=REFRESH_PER_SECOND,
            transient=False,
        )
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None
            if not self.console.is_terminal:
                self.console.line()  # rich leaves a file's last line open; a terminal's not

    def note(self, text: str) -> None:
        # wrapped at the console's width (at most 80 columns), on spaces: paths stay whole
        self.console.print(Text(text, style="dim"))

    def set_steps(self, steps: list[Step]) -> None:
        self.steps = steps

    def step_changed(self, number: int) -> None:
        return None  # drawn on the next refresh

    def update(self, rows: list[AppRow]) -> None:
        self.rows = rows

    def set_target(self, revision: str) -> None:
        self.target = revision

    def block(self, lines: list[str]) -> None:
        for line in lines:
            self.console.print(Text(line), soft_wrap=True)
