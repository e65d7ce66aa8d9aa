"""The transport contract: what a transport gives the server, and what it needs from it.

A transport accepts HTTP matchmaking requests and room sockets on one port
(``Transport``). For each socket it gives the rooms a ``Connection`` (send and
close, never blocking) and feeds the server's ``SocketHandler`` the frames and
the close. What it needs from the server is a ``TransportHost``. The aiohttp
implementation is ``transport_aiohttp.WebSocketTransport``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Connection", "Request", "SocketHandler", "TransportHost", "Transport"]


class Connection(Protocol):
    """One socket, as the rooms see it."""

    remote_address: str

    @property
    def open(self) -> bool:
        """False once a close started (from either side)."""

    def send(self, data: bytes) -> None:
        """Queue one binary frame (never blocks; dropped once the connection is closing)."""

    def close(self, code: int | None = None, reason: str = "") -> None:
        """Close with a status code (None: no status)."""

    def cut(self, code: int, reason: str = "") -> None:
        """Close without reading anything more (a client that broke a limit)."""


@dataclass
class Request:
    """What ``on_auth`` knows about the join request."""
    token: str | None
    headers: Mapping[str, str]          # case-insensitive
    query: dict[str, str]
    remote_address: str | None


class SocketHandler(Protocol):
    """What the server gives the transport for one socket, to feed it in order."""

    def on_frame(self, data: bytes) -> None:
        """One frame from the client."""

    async def on_close(self, code: int | None) -> None:
        """The socket is closed (its status code; None when there was none)."""


class TransportHost(Protocol):
    """What a transport needs from the server it serves (``pyseus.server.Server``)."""

    @property
    def shutting_down(self) -> bool:
        """Matchmaking answers 503 from now on."""

    @property
    def profile(self) -> str:
        """The client generations served (``pyseus.protocol.PROFILES``)."""

    async def matchmake(self, method: str, target: str, body: bytes,
                        headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """One ``POST /matchmake/<method>/<target>``: the HTTP status and the JSON answer."""

    async def get_available_rooms(self, name: str | None = None) -> list[dict[str, Any]]:
        """The listings of ``GET /matchmake/<name>``."""

    def open_socket(self, conn: Connection, room_id: str, query: dict[str, str],
                    headers: Mapping[str, str]) -> SocketHandler:
        """A socket was opened at ``/<processId>/<room_id>?<query>`` (``room_id`` empty
        when the path names none)."""


class Transport(ABC):
    """What a Server needs from a transport."""

    port: int | None = None

    @abstractmethod
    async def start(self, host: TransportHost, address: str, port: int) -> None:
        """Accept HTTP matchmaking and room sockets for ``host``; return once listening."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop listening and close the remaining sockets."""
