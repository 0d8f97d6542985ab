""" "Repository X moved to SHA Y" notifications for consumers (the reconcilers).

Each subscriber gets its own bounded memory stream. Publishing never blocks the cache: a
subscriber too slow to keep up has its stream closed (it sees end-of-stream), and must
resubscribe and re-read the repositories it cares about, rather than silently missing a move.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio
import structlog
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from fleet.git.mirror import RefSnapshot

log = structlog.get_logger("fleet.git")


@dataclass(frozen=True, slots=True)
class RepoMoved:
    """A ref changed in a fetch. `repo_url` is redacted; `old_sha`/`new_sha` empty = absent."""

    repo_url: str
    ref: str
    old_sha: str
    new_sha: str


def diff_snapshots(repo_url: str, old: RefSnapshot, new: RefSnapshot) -> list[RepoMoved]:
    """One event per created, moved or deleted ref, plus `HEAD` when the default branch moved."""
    events = [
        RepoMoved(repo_url, ref, old.refs.get(ref, ""), new.refs.get(ref, ""))
        for ref in sorted(set(old.refs) | set(new.refs))
        if old.refs.get(ref) != new.refs.get(ref)
    ]
    if old.head != new.head:
        events.append(RepoMoved(repo_url, "HEAD", old.head, new.head))
    return events


class EventHub:
    def __init__(self) -> None:
        self._subscribers: list[MemoryObjectSendStream[RepoMoved]] = []

    def subscribe(self, max_buffer: int = 1000) -> MemoryObjectReceiveStream[RepoMoved]:
        send, receive = anyio.create_memory_object_stream[RepoMoved](max_buffer)
        self._subscribers.append(send)
        return receive

    def publish(self, event: RepoMoved) -> None:
        for send in list(self._subscribers):
            try:
                send.send_nowait(event)
            except anyio.WouldBlock:
                log.warning("event subscriber too slow, closing its stream", repo=event.repo_url)
                send.close()
                self._subscribers.remove(send)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._subscribers.remove(send)

    def close(self) -> None:
        for send in self._subscribers:
            send.close()
        self._subscribers.clear()
