"""Room: one game session, as the application writes it.

Subclass it, override the hooks you need (sync or ``async``), and define it on a
``Server``. Everything a hook raises stays in the room: it is logged, and a
client that was joining gets the error the protocol prescribes.

This module holds only what the application sees. The machinery that runs a
room (seats, sockets, the patch loop, the lifecycle) is its engine
(``pyseus.server.engine``), which the room reaches through ``RoomHost``.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pyseus import protocol
from pyseus._callbacks import remover
from pyseus.protocol import CloseCode, MessageType, RoomListing, is_id
from pyseus.schema import Schema

from .client import Client, ClientList
from .clock import Clock
from .deferred import Deferred
from .presence import Presence
from .transport import Request

__all__ = ["Room", "RoomHost", "Request", "MessageHandler", "DEFAULT_SEAT_RESERVATION_TIME"]

StateT = TypeVar("StateT", bound=Schema)

DEFAULT_SEAT_RESERVATION_TIME = 15.0


def seat_reservation_time_from_env() -> float:
    value = os.environ.get("COLYSEUS_SEAT_RESERVATION_TIME")
    try:
        return float(value) if value else DEFAULT_SEAT_RESERVATION_TIME
    except ValueError:
        return DEFAULT_SEAT_RESERVATION_TIME


@dataclass(frozen=True)
class MessageHandler:
    """A registered ``on_message`` handler (``validate`` may be None)."""
    callback: Callable[..., Any]
    validate: Callable[[Any], Any] | None


class RoomHost(Protocol):
    """What a Room asks of the engine that runs it (``pyseus.server.engine.RoomEngine``)."""

    room_id: str
    room_name: str
    presence: Presence
    dev_mode: bool

    @property
    def restarting(self) -> bool: ...

    @property
    def creating(self) -> bool:
        """``on_create`` is running (the only time ``room_id`` may change)."""

    @property
    def clients(self) -> ClientList: ...

    @property
    def locked(self) -> bool: ...

    @property
    def clock(self) -> Clock: ...

    def use_state(self, state: Schema) -> None:
        """``state`` becomes the synchronised state (raises if clients already joined)."""

    def reschedule(self) -> None:
        """The patch rate or the simulation interval changed."""

    def broadcast_patch(self) -> bool:
        """Send the pending changes now (and the messages waiting for a patch)."""

    def broadcast(self, frame: bytes, excluded: frozenset[Client], after_next_patch: bool) -> None:
        """Send ``frame`` to every client but ``excluded``."""

    def listing_changed(self) -> None:
        """Metadata, privacy, lock or capacity changed: update the listing."""

    def allow_reconnection(self, client: Client, seconds: float | str) -> Deferred[Client]: ...

    async def disconnect(self, close_code: int) -> None: ...

    async def listings(self, conditions: dict[str, Any]) -> list[RoomListing]:
        """The listings of every room (of every process) whose fields equal ``conditions``."""


class Room(Generic[StateT]):
    """Base class of rooms (``Room[State]`` for typing).

    Class attributes: ``max_clients`` (None: unlimited), ``auto_dispose``, and
    limits that override the server's ``Limits`` for this room (None: the
    server's): ``max_messages_per_second`` and ``max_bytes_per_second`` (what
    one client may send; past it the client is closed with 4002),
    ``max_reservations`` (seats reserved and not claimed yet) and ``max_rooms``
    (rooms of this type in the process). Hooks, each sync or async: ``on_create(options)``,
    ``on_auth(client, options, request)`` (truthy to accept; the value becomes
    ``client.auth``), ``on_join(client, options, auth)``,
    ``on_leave(client, consented)``, ``on_drop(client, code)`` and
    ``on_reconnect(client)`` (see ``on_drop``), ``on_dispose()``,
    ``on_before_shutdown()`` (default: ``disconnect()``) and
    ``on_before_patch(state)`` (before each patch is encoded).
    """

    max_clients: int | None = None
    auto_dispose: bool = True
    max_messages_per_second: float | None = None
    max_bytes_per_second: float | None = None
    max_reservations: int | None = None
    max_rooms: int | None = None

    def __init__(self) -> None:
        self._host: RoomHost | None = None           # set by the engine before on_create
        # settings the engine reads
        self._state: StateT | None = None
        self._handlers: dict[str, MessageHandler] = {}
        self._bytes_handlers: dict[str, MessageHandler] = {}
        self._patch_rate: float | None = 50
        self._simulation: tuple[Callable[[float], Any], float] | None = None
        self._metadata: dict[str, Any] = {}
        self._private = False
        self._unlisted = False
        self._locked_by_hand = False
        self._seat_reservation_time = seat_reservation_time_from_env()

    # ---- hooks (override) -------------------------------------------------

    def on_create(self, options: dict[str, Any]) -> Any:
        """The room was created; ``options`` are the client's, overridden by define()'s."""

    def on_auth(self, client: Client, options: dict[str, Any], request: Request) -> Any:
        """Accept (truthy) or reject (falsy, or raise ServerError) a joining client."""
        return True

    def on_join(self, client: Client, options: dict[str, Any], auth: Any = None) -> Any:
        """A client joined (its JOIN_ROOM follows; messages sent now arrive after the state)."""

    def on_leave(self, client: Client, consented: bool) -> Any:
        """A client left; ``consented`` is true for a deliberate leave (close code 4000)."""

    def on_drop(self, client: Client, code: int) -> Any:
        """A client's connection dropped (any close but a consented leave). Only called
        when a room defines it, instead of ``on_leave``: it may ``allow_reconnection``
        (without awaiting it). ``on_leave(client, False)`` follows when no reconnection
        was allowed, or once the allowed one fails."""

    def on_reconnect(self, client: Client) -> Any:
        """A dropped client is back (before its JOIN_ROOM; raising refuses it)."""

    def on_dispose(self) -> Any:
        """The room is going away."""

    async def on_before_shutdown(self) -> None:
        """The server is shutting down; by default every client is disconnected (a
        consented leave, with close code 4001, or 4000 under protocol "0.16"; 4010,
        which clients answer by reconnecting, in dev mode and when the server restarts)."""
        host = self._running()
        await self.disconnect(CloseCode.DEVMODE_RESTART if host.dev_mode or host.restarting
                              else CloseCode.SERVER_SHUTDOWN)

    def on_before_patch(self, state: StateT) -> Any:
        """Called before each patch is encoded (the last chance to change the state for it)."""

    # ---- identity -----------------------------------------------------------

    def _running(self) -> RoomHost:
        if self._host is None:
            raise RuntimeError("this room is not running on a server (it is available from on_create on)")
        return self._host

    @property
    def room_id(self) -> str:
        """9 URL-safe characters; may be replaced in on_create only."""
        return self._running().room_id

    @room_id.setter
    def room_id(self, value: str) -> None:
        host = self._running()
        if not host.creating:
            raise AttributeError("room_id can only be set in on_create")
        if not is_id(value):
            raise ValueError(f"room_id {value!r} must be 1-128 characters from A-Z a-z 0-9 _ -")
        host.room_id = value

    @property
    def room_name(self) -> str:
        return self._running().room_name

    @property
    def clients(self) -> ClientList:
        return self._running().clients

    @property
    def presence(self) -> Presence:
        return self._running().presence

    @property
    def clock(self) -> Clock:
        """The room's clock (milliseconds; ticks with the simulation when there is one)."""
        return self._running().clock

    # ---- state and patches ------------------------------------------------------

    @property
    def state(self) -> StateT:
        if self._state is None:
            raise AttributeError("this room has no state (call set_state in on_create)")
        return self._state

    def set_state(self, state: StateT) -> None:
        """Set the synchronised state (a Schema instance)."""
        if not isinstance(state, Schema):
            raise TypeError(f"set_state() needs a Schema instance, got {type(state).__name__}")
        self._running().use_state(state)
        self._state = state

    @property
    def patch_rate(self) -> float | None:
        """Milliseconds between patches (None: automatic patches are off)."""
        return self._patch_rate

    def set_patch_rate(self, ms: float | None) -> None:
        """Patch every ``ms`` milliseconds; None or 0 turns automatic patches off."""
        self._patch_rate = float(ms) if ms else None
        if self._host is not None:
            self._host.reschedule()

    def set_simulation_interval(self, callback: Callable[[float], Any] | None = None, ms: float = 1000 / 60) -> None:
        """Call ``callback(delta_ms)`` every ``ms`` milliseconds (replacing the previous one);
        the room clock then advances with it."""
        if callback is not None and ms <= 0:
            raise ValueError("the simulation interval must be positive")
        self._simulation = (callback, float(ms)) if callback is not None else None
        if self._host is not None:
            self._host.reschedule()

    def broadcast_patch(self) -> bool:
        """Send the pending changes to the joined clients now; True if there were any."""
        return self._running().broadcast_patch()

    # ---- messages -----------------------------------------------------------------

    def on_message(self, type: MessageType, callback: Callable[..., Any],
                   validate: Callable[[Any], Any] | None = None) -> Callable[[], None]:
        """Handle messages of ``type`` with ``callback(client, message)``.

        ``"*"`` handles every type without its own handler, as
        ``callback(client, type, message)``. ``validate(message)`` may transform
        the message or raise (the client is then disconnected). Messages sent
        as raw bytes reach the same handlers with a ``bytes`` message, unless
        ``on_message_bytes`` has one for their type. Types are matched as text,
        so ``5`` and ``"5"`` are the same type. Returns a function that removes
        the handler.

        A client's ``room.request(type, message)`` (0.18) is answered with what
        the handler returns (awaited when it is a coroutine); raising
        ``ServerError`` or ``RequestRejected`` makes the request fail.
        """
        key = str(type)
        handler = self._handlers[key] = MessageHandler(callback, validate)
        return remover(self._handlers, handler, key)

    def on_message_bytes(self, type: MessageType, callback: Callable[..., Any],
                         validate: Callable[[Any], Any] | None = None) -> Callable[[], None]:
        """Handle messages of ``type`` sent as raw bytes (``room.sendBytes``) with
        ``callback(client, data)``, ahead of an ``on_message`` handler of the same type.
        Returns a function that removes the handler."""
        key = str(type)
        handler = self._bytes_handlers[key] = MessageHandler(callback, validate)
        return remover(self._bytes_handlers, handler, key)

    def broadcast(self, type: MessageType, message: Any = None, *, except_: Client | Sequence[Client] | None = None,
                  after_next_patch: bool = False) -> None:
        """Send a message to every client (bytes are sent raw, a Schema as its JSON)."""
        if isinstance(message, (bytes, bytearray, memoryview)):
            frame = protocol.room_data_bytes(type, bytes(message))
        else:
            frame = protocol.room_data(type, message)
        excluded = frozenset([except_] if isinstance(except_, Client) else except_ or ())
        self._running().broadcast(frame, excluded, after_next_patch)

    # ---- listing, locking, metadata ---------------------------------------------

    @property
    def metadata(self) -> dict[str, Any]:
        return self._metadata

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        """Merge into the metadata shown in listings and seat reservations."""
        self._metadata.update(metadata)
        if self._host is not None:
            self._host.listing_changed()

    @property
    def private(self) -> bool:
        return self._private

    def set_private(self, private: bool = True) -> None:
        """A private room is skipped by join/join_or_create (join_by_id still works)."""
        self._private = bool(private)
        if self._host is not None:
            self._host.listing_changed()

    @property
    def unlisted(self) -> bool:
        return self._unlisted

    def set_unlisted(self, unlisted: bool = True) -> None:
        """An unlisted room is left out of room lists and lobbies (it can still be joined)."""
        self._unlisted = bool(unlisted)
        if self._host is not None:
            self._host.listing_changed()

    @property
    def locked(self) -> bool:
        """Locked by hand, or full."""
        return self._host.locked if self._host is not None else self._locked_by_hand

    def lock(self) -> None:
        """No more joins (until unlock()); clients in the room are not affected."""
        self._locked_by_hand = True
        if self._host is not None:
            self._host.listing_changed()

    def unlock(self) -> None:
        self._locked_by_hand = False
        if self._host is not None:
            self._host.listing_changed()

    def set_seat_reservation_time(self, seconds: float) -> None:
        """How long a reserved seat waits for its client's WebSocket (default 15 s)."""
        if seconds <= 0:
            raise ValueError("the seat reservation time must be positive")
        self._seat_reservation_time = float(seconds)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "max_clients":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError("max_clients is a positive int or None")
            object.__setattr__(self, name, value)
            host = getattr(self, "_host", None)      # (None while __init__ runs)
            if host is not None:
                host.listing_changed()
            return
        object.__setattr__(self, name, value)

    # ---- leaving ----------------------------------------------------------------

    def allow_reconnection(self, client: Client, seconds: float | str = "manual") -> Deferred[Client]:
        """Keep a non-consented leaver's seat; await the result for the reconnected client.

        ``seconds``: how long to wait ("manual": until ``reject()``). Awaiting
        raises ``ReconnectionRejected`` on timeout, on ``reject()``, or when the
        room is disconnected.
        """
        if seconds != "manual" and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                    or seconds < 0):
            raise ValueError('seconds is a non-negative number or "manual"')
        return self._running().allow_reconnection(client, seconds)

    async def disconnect(self, close_code: int = CloseCode.CONSENTED) -> None:
        """Close every client (``on_leave`` runs for each), then dispose; returns when done.
        ``CloseCode.SERVER_SHUTDOWN`` closes with the protocol's shutdown code (4001; 4000
        under protocol "0.16") as a consented leave."""
        await self._running().disconnect(close_code)
