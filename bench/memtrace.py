"""Run `python -m fleet.cli ...` under tracemalloc; SIGUSR1 writes where live memory was
allocated (top lines and top files) to the path in FLEET_MEMTRACE_OUT.

Used by fleet_bench (`FLEET_BENCH_TRACEMALLOC=PATH`) to budget memory per cluster and per
Application. tracemalloc roughly doubles CPU time and adds its own memory, so figures from such
a run are for where memory goes, not for how much.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType


def _dump(_signum: int, _frame: FrameType | None) -> None:
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    lines = [
        f"traced now {tracemalloc.get_traced_memory()[0] / 2**20:.1f} MiB, "
        f"peak {tracemalloc.get_traced_memory()[1] / 2**20:.1f} MiB"
    ]
    for title, key in (("by file", "filename"), ("by line", "lineno")):
        lines.append(f"--- {title}")
        for stat in snapshot.statistics(key)[:40]:
            frame = stat.traceback[0]
            where = frame.filename.replace(str(Path.cwd()) + "/", "")
            if key == "lineno":
                where += f":{frame.lineno}"
            lines.append(f"{stat.size / 2**20:8.2f} MiB {stat.count:9d} blocks  {where}")
    Path(os.environ["FLEET_MEMTRACE_OUT"]).write_text("\n".join(lines) + "\n")


def main() -> None:
    tracemalloc.start(1)
    signal.signal(signal.SIGUSR1, _dump)
    sys.argv = ["fleet", *sys.argv[1:]]
    runpy.run_module("fleet.cli", run_name="__main__")


if __name__ == "__main__":
    main()
