"""One TLS read buffer per thread instead of one per connection.

asyncio's SSLProtocol (Python 3.11 to 3.13) allocates and zeroes a read buffer of `max_size`
bytes (256 KiB) for every connection and keeps it for the connection's life. fleet keeps one
long-lived connection per cluster and watched kind, so at 1,000 clusters those buffers alone were
the largest single item of the controller's memory (32 MiB even at 16 KiB each), and fleet.sim
zeroed 256 KiB for every connection it accepted.

The buffer never needs to outlive one read: the selector transport asks for it (`get_buffer`),
fills it (`recv_into`) and hands it back (`buffer_updated`, which copies the bytes into the
connection's own MemoryBIO) in one synchronous step. Every connection of one event loop can
therefore read into the same buffer; an event loop runs in one thread, so one buffer per thread.
(The Windows proactor keeps the buffer across an overlapped read, so nothing is changed there.)
"""

from __future__ import annotations

import sys
import threading
from asyncio import sslproto
from typing import Any

READ_CHUNK = 16 * 1024
"""Bytes read from a socket, and from OpenSSL, at once: one full TLS record. Larger reads would
not save much on fleet's small responses and would grow each connection's incoming MemoryBIO,
whose capacity OpenSSL keeps at its high-water mark for the connection's life."""

_threads = threading.local()
_NO_BUFFER = bytearray()
_installed = False


def _shared_view() -> memoryview:
    view: memoryview | None = getattr(_threads, "view", None)
    if view is None:
        view = _threads.view = memoryview(bytearray(READ_CHUNK))
    return view


def _get_buffer(self: Any, _sizehint: int) -> memoryview:
    # `buffer_updated` (unchanged) copies out of `_ssl_buffer_view`: point it at the shared one.
    view = _shared_view()
    self._ssl_buffer_view = view
    return view


def install() -> None:
    """Make every SSLProtocol of this process read through its thread's buffer (idempotent).

    Checks the attributes it relies on first and leaves asyncio alone where they differ, so a
    Python whose SSLProtocol changed only loses the saving."""
    global _installed
    protocol: Any = sslproto.SSLProtocol
    if _installed or sys.platform == "win32":
        return
    if not all(hasattr(protocol, name) for name in ("get_buffer", "buffer_updated", "max_size")):
        return
    original_init = protocol.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if hasattr(self, "_ssl_buffer_view"):
            self._ssl_buffer = _NO_BUFFER
            self._ssl_buffer_view = memoryview(_NO_BUFFER)

    protocol.max_size = min(protocol.max_size, READ_CHUNK)
    protocol.__init__ = __init__
    protocol.get_buffer = _get_buffer
    _installed = True
