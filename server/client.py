"""A client as a room sees it, and its lifecycle as an explicit state machine.

    JOINING --ack--> JOINED
    JOINING --refused--> GONE
    JOINING / JOINED --leave or close--> LEAVING --> GONE
    LEAVING --allow_reconnection--> RECONNECTING --new socket--> JOINING
    RECONNECTING --rejected or expired--> GONE

Messages sent while JOINING are queued and delivered after the full state.
The client talks to its socket only through a ``Connection`` (see transport),
and to its room's engine only through a ``ClientHost``.
"""
from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Iterator, Sequence
from typing import Any, Protocol, overload

from pyseus import protocol
from pyseus.protocol import CloseCode, MessageType
from pyseus.schema import StateView

from .transport import Connection

__all__ = ["Client", "ClientState", "ClientList", "ClientHost"]

log = logging.getLogger("pyseus.server.client")


class ClientState(enum.Enum):
    JOINING = "joining"
    JOINED = "joined"
    LEAVING = "leaving"
    RECONNECTING = "reconnecting"
    GONE = "gone"

    # Members are unique, so identity hashes them: Enum's own hash runs Python
    # code, and the sets below are tested for every frame a client sends or gets.
    __hash__ = object.__hash__


_TRANSITIONS = {
    ClientState.JOINING: {ClientState.JOINED, ClientState.LEAVING, ClientState.GONE},
    ClientState.JOINED: {ClientState.LEAVING},
    ClientState.LEAVING: {ClientState.RECONNECTING, ClientState.GONE},
    ClientState.RECONNECTING: {ClientState.JOINING, ClientState.GONE},
    ClientState.GONE: set(),
}

# (sets built once: looking up an enum member costs about 70 ns in Python 3.11)
IN_ROOM = frozenset({ClientState.JOINING, ClientState.JOINED})      #: the client holds its seat
_CAN_SEND = frozenset({ClientState.JOINING, ClientState.JOINED, ClientState.LEAVING})


class ClientHost(Protocol):
    """What a client needs from the room it is in (its engine)."""

    def send_after_patch(self, client: Client, frame: bytes) -> None:
        """Deliver ``frame`` to ``client`` right after the room's next patch."""


class Client:
    """One player in a room.

    ``user_data`` is free for the application; ``auth`` is what ``on_auth``
    returned; ``view`` (a ``pyseus.schema.StateView``, None by default) is what
    the client sees of the state's view fields (clients may share one). ``send``/``send_bytes``/``error``/``leave`` never block. What
    waits for a joining client is bounded by ``queue_limit`` bytes: past it,
    the client is closed (4002).
    """

    # (slots: see _Connection in transport_aiohttp; the dict stays for what an
    # application attaches to a client besides user_data)
    __slots__ = ("_conn", "_host", "_queue", "_queued", "ack_timer", "auth", "queue_limit", "reconnection_token",
                 "session_id", "state", "user_data", "view", "was_joined", "__dict__", "__weakref__")

    def __init__(self, session_id: str, host: ClientHost, conn: Connection, *, queue_limit: int = 1 << 20) -> None:
        self.session_id = session_id
        self.user_data: Any = None
        self.auth: Any = None
        self.view: StateView | None = None
        self.state = ClientState.JOINING
        self.reconnection_token = ""
        self._host = host
        self._conn: Connection | None = conn
        self._queue: list[bytes] = []
        self._queued = 0                  # bytes in _queue
        self.queue_limit = queue_limit
        self.was_joined = False   # reached JOINED once (a condition of allow_reconnection)
        self.ack_timer: asyncio.TimerHandle | None = None    # drops a client that never acknowledges the join

    def __repr__(self) -> str:
        return f"<Client {self.session_id} {self.state.value}>"

    @property
    def remote_address(self) -> str | None:
        return self._conn.remote_address if self._conn is not None else None

    @property
    def connection(self) -> Connection | None:
        """The socket this client uses now (None once it is gone)."""
        return self._conn

    def transition(self, new: ClientState) -> None:
        """Move to ``new`` (the table above); anything else is a bug and raises."""
        if new not in _TRANSITIONS[self.state]:
            raise RuntimeError(f"client {self.session_id}: {self.state.value} -> {new.value} is not a valid transition")
        self.state = new

    def reconnected(self, conn: Connection) -> None:
        """A new socket took this client's seat back."""
        self._conn = conn
        self.transition(ClientState.JOINING)

    # ---- sending ------------------------------------------------------------

    def send(self, type: MessageType, message: Any = None, *, after_next_patch: bool = False) -> None:
        """Send a message (``message`` None: no payload)."""
        self.enqueue(protocol.room_data(type, message), after_next_patch)

    def send_bytes(self, type: MessageType, data: bytes, *, after_next_patch: bool = False) -> None:
        """Send raw bytes (ROOM_DATA_BYTES)."""
        self.enqueue(protocol.room_data_bytes(type, data), after_next_patch)

    def error(self, code: int, message: str = "") -> None:
        """Send an ERROR frame (the connection stays open); never queued."""
        self.send_frame(protocol.error(code, message))

    def leave(self, code: int | None = None, reason: str = "") -> None:
        """Close the connection (4000 is a consented leave; 4000-4999 are for the application)."""
        if code is not None and not (code == CloseCode.NORMAL_CLOSURE or 3000 <= code <= 4999):
            raise ValueError(f"close code {code} is not allowed (use 4000-4999)")
        if self._conn is not None:
            self._conn.close(code, reason)

    def enqueue(self, frame: bytes, after_next_patch: bool = False) -> None:
        """Send a frame now, after the full state (while joining), or after the next patch."""
        if after_next_patch:
            self._host.send_after_patch(self, frame)
        elif self.state is ClientState.JOINING:
            if self._queued + len(frame) > self.queue_limit:
                if self._conn is not None and self._conn.open:
                    log.warning("%s: more than %d bytes wait for it to finish joining (limit join_queue_bytes); "
                                "closing it", self.session_id, self.queue_limit)
                    self._conn.cut(CloseCode.WITH_ERROR, "too much data waiting for the join")
                return
            self._queue.append(frame)
            self._queued += len(frame)
        else:
            self.send_frame(frame)

    def send_frame(self, frame: bytes) -> None:
        """Write a frame at once (dropped when the socket is closed or the client gone)."""
        conn = self._conn
        if conn is not None and self.state in _CAN_SEND:
            conn.send(frame)        # (which drops it when the socket is closing)

    def flush_queue(self) -> None:
        """Send what was queued while joining (after the full state)."""
        queued, self._queue = self._queue, []
        self._queued = 0
        for frame in queued:
            self.send_frame(frame)


class ClientList(Sequence[Client]):
    """The clients of a room (read-only)."""

    def __init__(self, clients: list[Client]) -> None:
        self._clients = clients

    @overload
    def __getitem__(self, i: int) -> Client: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[Client]: ...

    def __getitem__(self, i: int | slice) -> Client | Sequence[Client]:
        return self._clients[i]

    def __len__(self) -> int:
        return len(self._clients)

    def __iter__(self) -> Iterator[Client]:
        return iter(list(self._clients))

    def get(self, session_id: str) -> Client | None:
        """The client with this session id, if it is in the room."""
        for c in self._clients:
            if c.session_id == session_id:
                return c
        return None

    def __repr__(self) -> str:
        return f"ClientList({self._clients!r})"
