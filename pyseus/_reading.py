"""Reading sockets into one buffer shared by every connection of the process.

The standard asyncio loop reads each chunk with ``sock.recv(256 KiB)``: a fresh
256 KiB allocation per read, which costs more than the read itself when game
clients send small messages (about 9 µs against 1 µs with ``recv_into``).
There, a ``BufferedProtocol`` has the loop read into a buffer of ours instead;
one buffer serves every connection of a thread (an event loop runs in one
thread), since each read is handed over (as ``bytes``) before the loop reads
again. uvloop already reads into a buffer of its own, and a
``BufferedProtocol`` would only add calls per read there.
"""
from __future__ import annotations

import asyncio
import threading
from typing import TypeVar

__all__ = ["SharedBufferReads", "pick"]

_BUFFER_SIZE = 256 * 1024
_local = threading.local()        # (threads with loops of their own read at the same time)


def _thread_buffer() -> memoryview:
    buffer: memoryview | None = getattr(_local, "buffer", None)
    if buffer is None:
        buffer = _local.buffer = memoryview(bytearray(_BUFFER_SIZE))
    return buffer


P = TypeVar("P", bound=asyncio.Protocol)


class SharedBufferReads(asyncio.Protocol, asyncio.BufferedProtocol):
    """Mixin, after an ``asyncio.Protocol`` class: reads go into the thread's shared
    buffer, then to that class's ``data_received(bytes)``."""

    _read_into: memoryview | None = None      # (this thread's buffer, looked up on the first read)

    def get_buffer(self, sizehint: int) -> memoryview:
        buffer = self._read_into
        if buffer is None:
            buffer = self._read_into = _thread_buffer()
        return buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(self._read_into[:nbytes]))  # type: ignore[index]


def pick(plain: type[P], buffered: type[P]) -> type[P]:
    """The class of a new connection on the running loop: ``buffered`` (a subclass of
    ``plain`` and ``SharedBufferReads``) on the standard selector loop, else ``plain``."""
    if isinstance(asyncio.get_running_loop(), asyncio.selector_events.BaseSelectorEventLoop):
        return buffered
    return plain
