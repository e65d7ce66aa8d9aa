"""A client as a room sees it, and its lifecycle as an explicit state machine.

    RESERVED --socket--> JOINING --ack--> JOINED
    JOINING / JOINED --leave or close--> LEAVING --> GONE
    LEAVING --allow_reconnection--> RECONNECTING --new socket--> JOINING
    RECONNECTING --rejected or expired--> GONE

Messages sent while JOINING are queued and delivered after the full state.
The room talks to the socket only through a ``Connection`` (see transport).
"""
from __future__ import annotations

import enum
import logging
from typing import TYPE_CHECKING, Any, Protocol as TypingProtocol

from . import protocol
from .protocol import MessageType

if TYPE_CHECKING:
    from .room import Room

__all__ = ["Client", "ClientState", "Connection"]

log = logging.getLogger("server.client")


class Connection(TypingProtocol):
    """What a transport gives the room for one socket."""

    remote_address: str

    @property
    def open(self) -> bool: ...

    def send(self, data: bytes) -> None:
        """Queue one binary frame (never blocks)."""

    def close(self, code: int | None = None, reason: str = "") -> None:
        """Close with a status code (None: no status)."""


class ClientState(enum.Enum):
    RESERVED = "reserved"
    JOINING = "joining"
    JOINED = "joined"
    LEAVING = "leaving"
    RECONNECTING = "reconnecting"
    GONE = "gone"


_TRANSITIONS = {
    ClientState.RESERVED: {ClientState.JOINING, ClientState.GONE},
    ClientState.JOINING: {ClientState.JOINED, ClientState.LEAVING, ClientState.GONE},
    ClientState.JOINED: {ClientState.LEAVING},
    ClientState.LEAVING: {ClientState.RECONNECTING, ClientState.GONE},
    ClientState.RECONNECTING: {ClientState.JOINING, ClientState.GONE},
    ClientState.GONE: set(),
}


_CAN_SEND = (ClientState.JOINING, ClientState.JOINED, ClientState.LEAVING)


class Client:
    """One player in a room.

    ``user_data`` is free for the application; ``auth`` is what ``on_auth``
    returned. ``send``/``send_bytes``/``error``/``leave`` never block.
    """

    def __init__(self, session_id: str, room: Room[Any]) -> None:
        self.session_id = session_id
        self.user_data: Any = None
        self.auth: Any = None
        self.state = ClientState.RESERVED
        self.reconnection_token = ""
        self._room = room
        self._conn: Connection | None = None
        self._queue: list[bytes] = []
        self._was_joined = False   # reached JOINED once (a condition of allow_reconnection)

    def __repr__(self) -> str:
        return f"<Client {self.session_id} {self.state.value}>"

    @property
    def remote_address(self) -> str | None:
        return self._conn.remote_address if self._conn is not None else None

    def _transition(self, new: ClientState) -> None:
        if new not in _TRANSITIONS[self.state]:
            raise RuntimeError(f"client {self.session_id}: {self.state.value} -> {new.value} is not a valid transition")
        self.state = new

    # ---- sending ------------------------------------------------------------

    def send(self, type: MessageType, message: Any = None, *, after_next_patch: bool = False) -> None:
        """Send a message (``message`` None: no payload)."""
        self._enqueue(protocol.room_data(type, message), after_next_patch)

    def send_bytes(self, type: MessageType, data: bytes, *, after_next_patch: bool = False) -> None:
        """Send raw bytes (ROOM_DATA_BYTES)."""
        self._enqueue(protocol.room_data_bytes(type, data), after_next_patch)

    def error(self, code: int, message: str = "") -> None:
        """Send an ERROR frame (the connection stays open); never queued."""
        self._raw(protocol.error(code, message))

    def leave(self, code: int | None = None, reason: str = "") -> None:
        """Close the connection (4000 is a consented leave; 4000-4999 are for the application)."""
        if code is not None and not (code == 1000 or 3000 <= code <= 4999):
            raise ValueError(f"close code {code} is not allowed (use 4000-4999)")
        if self._conn is not None:
            self._conn.close(code, reason)

    def _enqueue(self, frame: bytes, after_next_patch: bool = False) -> None:
        if after_next_patch:
            self._room._after_patch.append((self, frame, frozenset()))
        elif self.state is ClientState.JOINING:
            self._queue.append(frame)
        else:
            self._raw(frame)

    def _raw(self, frame: bytes) -> None:
        conn = self._conn
        if conn is not None and conn.open and self.state in _CAN_SEND:
            conn.send(frame)

    def _flush_queue(self) -> None:
        queued, self._queue = self._queue, []
        for frame in queued:
            self._raw(frame)
