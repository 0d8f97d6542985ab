"""The controller process's garbage-collector settings.

Why: the controller's heap is large and long-lived (watch caches, each Application's state),
and with thousands of requests in flight many short-lived objects survive CPython's frequent
young collections (every 700 net allocations), are promoted, and keep triggering full
collections over the whole heap. Measured at 1,000 clusters x 2 Applications x 10 objects
(`bench/fleet_bench.py`), CPython's defaults (700, 10, 10) ran 38 full collections during
convergence: 19 s of 63 s of CPU, plus 5 s of young ones. With the thresholds below (measured
before the freeze was added): no full collection, 3 s in all, the same peak RSS, and
convergence in 47 s instead of 66 s.

Cyclic garbage is still collected: young collections every YOUNG net allocations, and a full
one after YOUNG x MIDDLE x OLD (10 million) once the heap has grown by a quarter since the
last (CPython's own rule for the oldest generation).
"""

from __future__ import annotations

import gc

YOUNG = 50_000
MIDDLE = 20
OLD = 10


def tune() -> None:
    """Call once, after start-up imports and before the event loop: what exists now (modules,
    classes, functions) lives as long as the process and is never scanned again."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)
