"""Exceptions of the client package (see ``pyseus.errors`` for the whole tree).

``ClientError`` is the base. ``MatchMakeError(code, message)`` is what a server
refusal raises: a matchmaking error answered over HTTP, or a join refused on
the WebSocket (an ``on_auth`` or ``on_join`` error, an expired seat).
``RoomLeftError`` is what waiting on a room raises once the room is closed.
``RequestError`` is what a failed ``room.request()`` raises.
Network failures raise the built-in ``ConnectionError`` (or ``TimeoutError``).
"""
from __future__ import annotations

from pyseus.errors import PyseusError

__all__ = ["ClientError", "MatchMakeError", "RoomLeftError", "RequestError"]


class ClientError(PyseusError):
    """Base class of the errors this package raises."""


class MatchMakeError(ClientError):
    """The server refused: ``code`` is the Colyseus error code (or the HTTP status,
    or the close code when the socket closed before the join), ``message`` its text."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message


class RoomLeftError(ClientError):
    """The room's connection is closed (``code`` is the close code)."""

    def __init__(self, code: int) -> None:
        super().__init__(f"the room connection is closed (code {code})")
        self.code = code


class RequestError(ClientError):
    """A ``room.request()`` failed: ``status`` 1 when the room rejected it (``reason``
    is what it gave), 2 when it could not answer (``name``, ``message`` and, for a
    ``ServerError``, ``code``: e.g. ``name == "no_handler"`` for a type it does not
    handle)."""

    def __init__(self, status: int, name: str, message: str, code: int | None = None, reason: object = None) -> None:
        super().__init__(f"{name}: {message}" + (f" (code {code})" if code is not None else ""))
        self.status = int(status)
        self.name = name
        self.message = message
        self.code = code
        self.reason = reason
