"""Errors of the room protocol (see ``pyseus.errors`` for the whole tree)."""
from __future__ import annotations

from pyseus.errors import PyseusError

__all__ = ["ProtocolError", "MessagePackError", "FrameError"]


class ProtocolError(PyseusError, ValueError):
    """A frame or a payload that does not follow the room protocol."""


class MessagePackError(ProtocolError):
    """A payload that is not valid (msgpackr-flavoured) MessagePack."""


class FrameError(Exception):
    """The peer broke the WebSocket framing rules: close the connection with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{reason} (close {code})")
        self.code = code
        self.reason = reason
