"""Errors of the room protocol (see ``pyseus.errors`` for the whole tree)."""
from __future__ import annotations

from pyseus.errors import PyseusError

__all__ = ["ProtocolError", "MessagePackError"]


class ProtocolError(PyseusError, ValueError):
    """A frame or a payload that does not follow the room protocol."""


class MessagePackError(ProtocolError):
    """A payload that is not valid (msgpackr-flavoured) MessagePack."""
