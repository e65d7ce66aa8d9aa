"""Exceptions of the server package (see ``pyseus.errors`` for the whole tree).

``ServerError(code, message)`` is what room code raises to send a client a
specific error code (from ``on_create``, ``on_auth`` or ``on_join``, or from a
message handler answering a ``room.request()``); the server also raises it for
matchmaking failures. ``RequestRejected(reason)``, raised by a handler that
answers a request, rejects it. ``ReconnectionRejected`` is what awaiting a
rejected or expired ``Deferred`` raises.
"""
from __future__ import annotations

from typing import Any

from pyseus.errors import PyseusError
from pyseus.protocol import ErrorCode

__all__ = ["ServerError", "RequestRejected", "ReconnectionRejected"]


class ServerError(PyseusError):
    """An error with a Colyseus error code, sent to the client as ``{code, error}``
    (matchmaking) or as an ERROR frame (WebSocket join)."""

    def __init__(self, code: int = ErrorCode.MATCHMAKE_UNHANDLED, message: str = "") -> None:
        super().__init__(message)
        self.code = int(code)
        self.message = message

    def __repr__(self) -> str:
        return f"ServerError({self.code}, {self.message!r})"


class RequestRejected(PyseusError):
    """Raised by a message handler to reject a client's ``room.request()``: the client's
    request fails with ``reason`` (any value MessagePack can carry)."""

    def __init__(self, reason: Any = None) -> None:
        super().__init__(reason if reason is not None else "rejected")
        self.reason = reason


class ReconnectionRejected(PyseusError):
    """Raised by awaiting a Deferred that was rejected (``reason`` is why)."""

    def __init__(self, reason: Any = None) -> None:
        super().__init__(reason if reason is not None else "rejected")
        self.reason = reason
