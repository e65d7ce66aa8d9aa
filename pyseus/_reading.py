"""Reading sockets into one buffer shared by every connection of the process.

The standard asyncio loop reads each chunk with ``sock.recv(256 KiB)``: a fresh
256 KiB allocation per read, which costs more than the read itself when game
clients send small messages (about 9 µs against 1 µs with ``recv_into``).
There, a ``BufferedProtocol`` has the loop read into a buffer of ours instead;
one buffer serves every connection, since each read is handed over (as
``bytes``) before the loop reads again. uvloop already reads into a buffer of
its own, and a ``BufferedProtocol`` would only add calls per read there.
"""
from __future__ import annotations

import asyncio
from typing import TypeVar

__all__ = ["SharedBufferReads", "pick"]

_BUFFER = memoryview(bytearray(256 * 1024))

P = TypeVar("P", bound=asyncio.Protocol)


class SharedBufferReads(asyncio.BufferedProtocol):
    """Mixin, after an ``asyncio.Protocol`` class: reads go into the shared buffer,
    then to its ``data_received(bytes)``."""

    def get_buffer(self, sizehint: int) -> memoryview:
        return _BUFFER

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(_BUFFER[:nbytes]))

    def data_received(self, data: bytes) -> None:       # (the protocol's, first in the order)
        raise NotImplementedError


def pick(plain: type[P], buffered: type[P]) -> type[P]:
    """The class of a new connection on the running loop: ``buffered`` (a subclass of
    ``plain`` and ``SharedBufferReads``) on the standard selector loop, else ``plain``."""
    if isinstance(asyncio.get_running_loop(), asyncio.selector_events.BaseSelectorEventLoop):
        return buffered
    return plain
