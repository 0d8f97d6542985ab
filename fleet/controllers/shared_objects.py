"""One copy of each hub object version, however many watches in the process read it.

Why: the Application controller and the ApplicationSet controller each watch Applications (the
second with a label selector, and in a single process with every worker) and each decoded its own
copy of every Application, status included. Measured at 1,000 clusters x 2 Applications (bench
/memtrace.py), Applications were 87 MiB of the controller's heap in three copies of each: an
Application with its status is about 20 KiB of Python objects. Handing both caches the same
object for the same (uid, resourceVersion) keeps one.

Objects shared this way are read-only to their holders: a controller that needs a changed
Application builds a new one (as fleet.controllers.appset_plan.updated does). A version held by
one watch and not yet seen by the other is simply not shared; nothing waits for it.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


class SharedObjects:
    """The latest version seen of each object, by uid."""

    def __init__(self) -> None:
        self._latest: dict[str, Obj] = {}

    def __len__(self) -> int:
        return len(self._latest)

    def share(self, obj: Obj) -> Obj:
        """`obj`, or the equal object already held for its uid and resourceVersion."""
        uid, version = _identity(obj)
        if not uid or not version:
            return obj
        held = self._latest.get(uid)
        if held is not None and _identity(held)[1] == version:
            return held
        self._latest[uid] = obj
        return obj

    def forget(self, obj: Obj) -> None:
        """The object was deleted (or left a watch's selector): stop holding it."""
        uid, _ = _identity(obj)
        self._latest.pop(uid, None)


def _identity(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return "", ""
    return str(meta.get("uid") or ""), str(meta.get("resourceVersion") or "")
