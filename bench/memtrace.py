"""Run `python -m fleet.cli ...` under tracemalloc; SIGUSR1 writes where live memory was
allocated (top lines and top files) to the path in FLEET_MEMTRACE_OUT, then who holds it: live
tasks by coroutine, garbage awaiting a collection, open sockets against TLS protocol objects,
Kubernetes objects by kind (count and deep size) and the attributes holding Applications (or
the kinds in FLEET_MEMTRACE_HOLDERS, comma-separated). With
FLEET_MEMTRACE_DEPTH > 1, also memory by the innermost fleet frame that allocated it (slow: a
depth of 8 at 200 clusters takes minutes to write). With FLEET_MEMTRACE_REFERRERS=1, also who
holds the events, cancel scopes and locks (slow: each lookup scans the heap; at 1,000 clusters
it takes more than ten minutes).

Used by fleet_bench (`FLEET_BENCH_TRACEMALLOC=PATH`) to budget memory per cluster and per
Application. tracemalloc roughly doubles CPU time and adds its own memory, so figures from such
a run are for where memory goes, not for how much.
"""

from __future__ import annotations

import asyncio
import gc
import os
import runpy
import signal
import sys
import tracemalloc
from asyncio import sslproto
from collections import Counter
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
    if tracemalloc.get_traceback_limit() > 1:
        lines.extend(_by_caller(snapshot))
    lines.extend(_task_census())
    lines.extend(_garbage())
    lines.extend(_connections())
    lines.extend(_objects_by_kind())
    for kind in os.environ.get("FLEET_MEMTRACE_HOLDERS", "Application").split(","):
        lines.extend(_holders(kind.strip()))
    lines.extend(_instances())
    Path(os.environ["FLEET_MEMTRACE_OUT"]).write_text("\n".join(lines) + "\n")


def _by_caller(snapshot: tracemalloc.Snapshot) -> list[str]:
    """Live memory by the innermost frame in fleet/ that led to the allocation: which of
    fleet's structures hold parsed JSON and buffers (FLEET_MEMTRACE_DEPTH > 1)."""
    sizes: Counter[str] = Counter()
    for trace in snapshot.traces:
        ours = next((f for f in reversed(trace.traceback) if "/fleet/" in f"/{f.filename}"), None)
        sizes[f"{ours.filename}:{ours.lineno}" if ours else "-"] += trace.size
    lines = ["--- by innermost fleet frame"]
    lines.extend(f"{n / 2**20:8.2f} MiB  {key}" for key, n in sizes.most_common(40))
    return lines


def _garbage() -> list[str]:
    """How much of the heap was unreachable garbage waiting for a collection (the controller
    raises the collector's thresholds: fleet/controllers/gcpolicy.py)."""
    before = tracemalloc.get_traced_memory()[0]
    found = gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    return [
        f"--- gc.collect(): {found} objects, traced {before / 2**20:.1f} -> {after / 2**20:.1f} MiB"
    ]


def _connections() -> list[str]:
    """Open sockets against live TLS protocol objects by state: connections closed but still
    held cost their buffers."""
    fds = os.listdir("/proc/self/fd")
    sockets = sum(1 for fd in fds if _link(f"/proc/self/fd/{fd}").startswith("socket:"))
    states: Counter[str] = Counter()
    for obj in gc.get_objects():
        if isinstance(obj, sslproto.SSLProtocol):
            states[
                f"{obj._state.name} transport={'none' if obj._transport is None else 'set'}"
            ] += 1
    lines = [f"--- open sockets: {sockets}; TLS protocols: {sum(states.values())}"]
    lines.extend(f"{n:9d}  {key}" for key, n in states.most_common())
    return lines


def _objects_by_kind() -> list[str]:
    """Kubernetes objects held (dicts with apiVersion, kind and metadata) by kind: count and
    deep size, each container counted once."""
    seen: set[int] = set()

    def deep(obj: object) -> int:
        if id(obj) in seen:
            return 0
        seen.add(id(obj))
        size = sys.getsizeof(obj)
        if isinstance(obj, dict):
            size += sum(deep(k) + deep(v) for k, v in obj.items())
        elif isinstance(obj, list | tuple):
            size += sum(deep(v) for v in obj)
        return size

    sizes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for obj in gc.get_objects():
        if isinstance(obj, dict) and "kind" in obj and "metadata" in obj and "apiVersion" in obj:
            kind = str(obj.get("kind"))
            counts[kind] += 1
            sizes[kind] += deep(obj)
    lines = ["--- Kubernetes objects by kind: count, deep MiB"]
    lines.extend(f"{counts[k]:9d} {n / 2**20:8.2f} MiB  {k}" for k, n in sizes.most_common(20))
    return lines


def _holders(kind: str, sample: int = 300) -> list[str]:
    """Who holds objects of `kind`: for a sample, each referrer named by the attribute that
    holds it (a dict owned by an instance: Class.attribute) or its type."""
    objs = [
        o
        for o in gc.get_objects()
        if isinstance(o, dict) and o.get("kind") == kind and "metadata" in o and "apiVersion" in o
    ][:sample]
    return _referrers(f"{kind} objects", objs)


def _instances() -> list[str]:
    """Instances by class (classes with at least 2,000 alive), and who holds the events,
    cancel scopes and locks: each costs a few hundred bytes, and thousands of them are a sign
    of per-Application or per-cluster machinery."""
    counts: Counter[type] = Counter(type(o) for o in gc.get_objects())
    lines = ["--- instances by class (>= 2,000)"]
    for cls, n in counts.most_common(60):
        if n >= 2000 and cls.__module__ not in ("builtins",):
            lines.append(f"{n:9d}  {cls.__module__}.{cls.__qualname__}")
    if not os.environ.get("FLEET_MEMTRACE_REFERRERS"):
        return lines
    for cls, n in counts.most_common():
        if n >= 2000 and cls.__name__ in ("Event", "CancelScope", "Lock", "Semaphore"):
            objs = [o for o in gc.get_objects() if type(o) is cls][:50]  # a scan per object
            lines.extend(_referrers(f"{cls.__module__}.{cls.__qualname__}", objs))
    return lines


def _referrers(what: str, objs: list[object]) -> list[str]:
    found: Counter[str] = Counter()
    for obj in objs:
        for ref in gc.get_referrers(obj):
            if ref is objs:
                continue
            name = type(ref).__name__
            if isinstance(ref, dict):
                owners = [
                    o
                    for o in gc.get_referrers(ref)
                    if getattr(o, "__dict__", None) is not None and ref in vars(o).values()
                ]
                for owner in owners[:1]:
                    attr = next(k for k, v in vars(owner).items() if v is ref)
                    name = f"{type(owner).__qualname__}.{attr}"
                else:
                    if not owners:
                        name = f"dict keys={sorted(map(str, ref))[:4]}"
            elif type(ref).__name__ == "frame":
                name = f"frame {ref.f_code.co_filename.split('/')[-1]}:{ref.f_code.co_qualname}"
            elif (attr := _attribute_of(ref, obj)) is not None:
                name = f"{type(ref).__qualname__}.{attr}"
            elif type(ref).__name__ == "cell":
                name = "cell (a closure)"
            found[name] += 1
    lines = [f"--- holders of {len(objs)} {what}"]
    lines.extend(f"{n:9d}  {key}" for key, n in found.most_common(20))
    return lines


def _attribute_of(owner: object, value: object) -> str | None:
    """The attribute (instance dict or slot) of `owner` that is `value`, if any."""
    names = list(getattr(owner, "__dict__", {}))
    for cls in type(owner).__mro__:
        names.extend(getattr(cls, "__slots__", ()))
    for name in names:
        try:
            if getattr(owner, name) is value:
                return name
        except AttributeError:
            continue
    return None


def _link(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def _task_census() -> list[str]:
    """Live asyncio tasks by (coroutine, where it is suspended): which parts of the controller
    hold tasks (each costs its frames, a Task and often a Future)."""
    counts: Counter[str] = Counter()
    for task in list(asyncio.tasks._all_tasks):
        chain = []
        inner = task.get_coro()
        while inner is not None and getattr(inner, "cr_frame", None) is not None:
            code = inner.cr_frame.f_code
            chain.append(f"{code.co_filename.split('/')[-1]}:{code.co_qualname}")
            inner = inner.cr_await
        ours = [c for c in chain if "TaskHandle" not in c][:3]
        counts[" > ".join(ours) or "-"] += 1
    lines = [f"--- live tasks: {sum(counts.values())}"]
    lines.extend(f"{n:9d}  {key}" for key, n in counts.most_common(40))
    return lines


def main() -> None:
    tracemalloc.start(int(os.environ.get("FLEET_MEMTRACE_DEPTH", "1")))
    signal.signal(signal.SIGUSR1, _dump)
    sys.argv = ["fleet", *sys.argv[1:]]
    runpy.run_module("fleet.cli", run_name="__main__")


if __name__ == "__main__":
    main()
