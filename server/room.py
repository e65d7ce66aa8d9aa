"""Room: one game session: lifecycle hooks, state patches, messages, reconnection.

Subclass it, override the hooks you need (sync or ``async``), and define it on a
``Server``. Everything a hook raises stays in the room: it is logged, and a
client that was joining gets the error the protocol prescribes.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import math
import os
import re
import secrets
import string
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Mapping, TypeVar, overload

from schema import Encoder, Reflection, Schema

from . import protocol
from .client import Client, ClientState, Connection
from .clock import Clock
from .deferred import Deferred
from .driver import RoomListing
from .errors import ServerError
from .protocol import CloseCode, ErrorCode, MessageType

if TYPE_CHECKING:
    from .matchmaker import Matchmaker
    from .presence import Presence

__all__ = ["Room", "Request", "ClientList", "generate_id"]

log = logging.getLogger("server.room")

StateT = TypeVar("StateT", bound=Schema)

_ALPHABET = string.ascii_letters + string.digits + "_-"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
DEFAULT_SEAT_RESERVATION_TIME = 15.0


def generate_id(length: int = 9) -> str:
    """A random id from the URL-safe alphabet clients expect (no ':', no escaping)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def seat_reservation_time_from_env() -> float:
    value = os.environ.get("COLYSEUS_SEAT_RESERVATION_TIME")
    try:
        return float(value) if value else DEFAULT_SEAT_RESERVATION_TIME
    except ValueError:
        return DEFAULT_SEAT_RESERVATION_TIME


@dataclass
class Request:
    """What ``on_auth`` knows about the join request."""
    token: str | None
    headers: Mapping[str, str]          # case-insensitive
    query: dict[str, str]
    remote_address: str | None


@dataclass
class _Reservation:
    session_id: str
    options: dict[str, Any]
    token: str | None
    timer: asyncio.TimerHandle | None = None


@dataclass
class _PendingReconnection:
    client: Client
    deferred: Deferred[Client]
    reconnecting: bool = False           # the HTTP reconnect step has happened
    timer: asyncio.TimerHandle | None = field(default=None)


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


_arity_cache: dict[Any, int | None] = {}


def _positional_arity(fn: Callable[..., Any]) -> int | None:
    # How many positional arguments a hook takes (None: any number).
    key = getattr(fn, "__func__", fn)
    if key not in _arity_cache:
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            _arity_cache[key] = None
        else:
            if any(p.kind is p.VAR_POSITIONAL for p in params):
                _arity_cache[key] = None
            else:
                _arity_cache[key] = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
    return _arity_cache[key]


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a hook that may be sync or async, with as many of ``args`` as it takes."""
    arity = _positional_arity(fn)
    if arity is not None and arity < len(args):
        args = args[:arity]
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


class Room(Generic[StateT]):
    """Base class of rooms (``Room[State]`` for typing).

    Class attributes: ``max_clients`` (None: unlimited), ``auto_dispose``.
    Hooks, each sync or async: ``on_create(options)``,
    ``on_auth(client, options, request)`` (truthy to accept; the value becomes
    ``client.auth``), ``on_join(client, options, auth)``,
    ``on_leave(client, consented)``, ``on_dispose()``, and
    ``on_before_shutdown()`` (default: ``disconnect()``).
    """

    max_clients: int | None = None
    auto_dispose: bool = True

    def __init__(self) -> None:
        self._state: StateT | None = None
        self._encoder: Encoder | None = None
        self._handshake = b""
        self._full_cache: bytes | None = None
        self._clients: list[Client] = []
        self._client_list = ClientList(self._clients)
        self._reserved: dict[str, _Reservation] = {}
        self._reconnections: dict[str, _PendingReconnection] = {}
        self._handlers: dict[str, tuple[Callable[..., Any], Callable[[Any], Any] | None]] = {}
        # (one client, or None for everyone but the excluded ones; frame; excluded)
        self._after_patch: list[tuple[Client | None, bytes, frozenset[Client]]] = []
        self._patch_rate: float | None = 50
        self._sim_callback: Callable[[float], Any] | None = None
        self._sim_ms = 1000 / 60
        self._ticker: asyncio.Task[None] | None = None
        self._ticker_gen = 0
        self._metadata: dict[str, Any] = {}
        self._private = False
        self._locked = False
        self._locked_by_hand = False
        self._room_id = ""
        self._room_name = ""
        self._listing: RoomListing | None = None
        self._matchmaker: Matchmaker | None = None
        self._presence: Presence | None = None
        self._clock: Clock | None = None
        self._seat_reservation_time = seat_reservation_time_from_env()
        self._creating = False
        self._started = False
        self._disposing = False
        self._disposed: asyncio.Event | None = None
        self._leaving = 0
        self._tasks: set[asyncio.Future[Any]] = set()
        self._dev_mode = False
        self._observers: list[Callable[..., None]] = []

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

    def on_dispose(self) -> Any:
        """The room is going away."""

    async def on_before_shutdown(self) -> None:
        """The server is shutting down; by default every client is disconnected."""
        await self.disconnect(CloseCode.DEVMODE_RESTART if self._dev_mode else CloseCode.CONSENTED)

    # ---- properties -------------------------------------------------------------

    @property
    def room_id(self) -> str:
        """9 URL-safe characters; may be replaced in on_create only."""
        return self._room_id

    @room_id.setter
    def room_id(self, value: str) -> None:
        if not self._creating:
            raise AttributeError("room_id can only be set in on_create")
        if not isinstance(value, str) or not _ID.match(value):
            raise ValueError(f"room_id {value!r} must be 1-128 characters from A-Z a-z 0-9 _ -")
        self._room_id = value

    @property
    def room_name(self) -> str:
        return self._room_name

    @property
    def state(self) -> StateT:
        if self._state is None:
            raise AttributeError("this room has no state (call set_state in on_create)")
        return self._state

    @property
    def clients(self) -> ClientList:
        return self._client_list

    @property
    def metadata(self) -> dict[str, Any]:
        return self._metadata

    @property
    def locked(self) -> bool:
        return self._locked

    @property
    def private(self) -> bool:
        return self._private

    @property
    def patch_rate(self) -> float | None:
        """Milliseconds between patches (None: automatic patches are off)."""
        return self._patch_rate

    @property
    def clock(self) -> Clock:
        if self._clock is None:
            self._clock = Clock(on_error=self._report)
        return self._clock

    @property
    def presence(self) -> Presence:
        assert self._presence is not None, "the room is not running on a server"
        return self._presence

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name == "max_clients" and getattr(self, "_listing", None) is not None:
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError("max_clients is a positive int or None")
            self._capacity_changed()

    # ---- state and patches ------------------------------------------------------

    def set_state(self, state: StateT) -> None:
        """Set the synchronised state (a Schema instance)."""
        if not isinstance(state, Schema):
            raise TypeError(f"set_state() needs a Schema instance, got {type(state).__name__}")
        if any(c.state is not ClientState.RESERVED for c in self._clients):
            raise RuntimeError("set_state() after clients joined: they would keep the old types")
        if self._encoder is not None:
            self._encoder.close()
        self._state = state
        self._encoder = Encoder(state)
        self._handshake = Reflection.encode(state)
        self._full_cache = None

    def set_patch_rate(self, ms: float | None) -> None:
        """Patch every ``ms`` milliseconds; None or 0 turns automatic patches off."""
        self._patch_rate = float(ms) if ms else None
        self._restart_ticker()

    def set_simulation_interval(self, callback: Callable[[float], Any] | None = None, ms: float = 1000 / 60) -> None:
        """Call ``callback(delta_ms)`` every ``ms`` milliseconds (replacing the previous one);
        the room clock then advances with it."""
        if callback is not None and ms <= 0:
            raise ValueError("the simulation interval must be positive")
        self._sim_callback = callback
        self._sim_ms = float(ms)
        self.clock.drive(callback is not None)
        self._restart_ticker()

    async def _simulate(self, callback: Callable[[float], Any]) -> None:
        self.clock.tick()
        await _call(callback, self.clock.delta_time)
        self._notify("tick", self.clock.delta_time)

    def broadcast_patch(self) -> bool:
        """Send the pending changes to the joined clients now; True if there were any."""
        sent = False
        try:
            before = getattr(self, "on_before_patch", None)
            if before is not None:
                before(self._state)
            sent = self._send_patch()
        finally:
            self._deliver_after_patch()
        return sent

    def _send_patch(self, exclude: Client | None = None) -> bool:
        encoder = self._encoder
        if encoder is None:
            return False
        joined = [c for c in self._clients if c.state is ClientState.JOINED and c is not exclude]
        if not joined:
            encoder.discard()
            self._full_cache = None
            return False
        patch = encoder.encode()
        if not patch:
            return False
        self._full_cache = None
        frame = protocol.room_patch(patch)
        for c in joined:
            c._raw(frame)
        self._notify("patch", patch)
        return True

    def _deliver_after_patch(self) -> None:
        queued, self._after_patch = self._after_patch, []
        for target, frame, excluded in queued:
            for c in [target] if target is not None else list(self._clients):
                if c not in excluded:
                    c._enqueue(frame)     # still queued for a client that is joining

    def _full_state(self) -> bytes:
        assert self._encoder is not None
        if self._full_cache is None or self._encoder.has_changes:
            self._full_cache = self._encoder.encode_all()
        return self._full_cache

    # ---- messages -----------------------------------------------------------------

    def on_message(self, type: MessageType, callback: Callable[..., Any],
                   validate: Callable[[Any], Any] | None = None) -> Callable[[], None]:
        """Handle messages of ``type`` with ``callback(client, message)``.

        ``"*"`` handles every type without its own handler, as
        ``callback(client, type, message)``. ``validate(message)`` may transform
        the message or raise (the client is then disconnected). Messages sent
        as raw bytes reach the same handlers with a ``bytes`` message. Types are
        matched as text, so ``5`` and ``"5"`` are the same type. Returns a
        function that removes the handler.
        """
        key = "*" if type == "*" else str(type)
        self._handlers[key] = (callback, validate)

        def remove() -> None:
            if self._handlers.get(key, (None,))[0] is callback:
                del self._handlers[key]
        return remove

    def broadcast(self, type: MessageType, message: Any = None, *, except_: Client | Sequence[Client] | None = None,
                  after_next_patch: bool = False) -> None:
        """Send a message to every client (bytes are sent raw, a Schema as its JSON)."""
        if isinstance(message, (bytes, bytearray, memoryview)):
            frame = protocol.room_data_bytes(type, bytes(message))
        else:
            frame = protocol.room_data(type, message)
        excluded = frozenset([except_] if isinstance(except_, Client) else except_ or ())
        if after_next_patch:
            self._after_patch.append((None, frame, excluded))
            return
        for c in list(self._clients):
            if c not in excluded:
                c._enqueue(frame)

    def broadcast_bytes(self, type: MessageType, data: bytes, *, except_: Client | Sequence[Client] | None = None,
                        after_next_patch: bool = False) -> None:
        self.broadcast(type, bytes(data), except_=except_, after_next_patch=after_next_patch)

    def _on_frame(self, client: Client, data: bytes) -> None:
        """One frame from a client (called by the transport, in order)."""
        if client.state not in (ClientState.JOINING, ClientState.JOINED):
            return
        try:
            frame = protocol.parse_client_frame(data)
        except protocol.ProtocolError as e:
            log.info("room %s: client %s sent a malformed frame (%s)", self._room_id, client.session_id, e)
            client.leave(CloseCode.WITH_ERROR)
            return
        if isinstance(frame, protocol.JoinAck):
            self._on_ack(client)
        elif isinstance(frame, protocol.LeaveRoom):
            self._spawn(self._consented_leave(client))
        elif isinstance(frame, (protocol.RoomData, protocol.RoomDataBytes)):
            self._dispatch(client, frame)

    def _dispatch(self, client: Client, frame: protocol.RoomData | protocol.RoomDataBytes) -> None:
        try:
            message = frame.message() if isinstance(frame, protocol.RoomData) else frame.data
        except protocol.ProtocolError as e:
            log.info("room %s: %s", self._room_id, e)
            client.leave(CloseCode.WITH_ERROR)
            return
        entry = self._handlers.get(str(frame.type))
        args: tuple[Any, ...]
        if entry is not None:
            callback, validate = entry
            if validate is not None:
                try:
                    message = validate(message)
                except Exception as e:
                    log.info("room %s: message %r from %s failed validation: %s",
                             self._room_id, frame.type, client.session_id, e)
                    client.leave(CloseCode.WITH_ERROR)
                    return
            args = (client, message)
        elif "*" in self._handlers:
            callback = self._handlers["*"][0]
            args = (client, frame.type, message)
        else:
            reason = f'room onMessage for "{frame.type}" not registered.'
            if self._dev_mode:
                client.error(ErrorCode.INVALID_PAYLOAD, reason)
            else:
                client.leave(CloseCode.WITH_ERROR, reason)
            return
        self._notify("message", client, frame.type, message)
        try:
            result = callback(*args)
        except Exception as e:
            self._report(e, f"message {frame.type!r} handler")
            return
        if inspect.isawaitable(result):
            self._spawn(result, f"message {frame.type!r} handler")

    # ---- listing, locking, metadata ---------------------------------------------

    def set_private(self, private: bool = True) -> None:
        """A private room is skipped by join/join_or_create (join_by_id still works)."""
        self._private = bool(private)
        self._save_listing()

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        """Merge into the metadata shown in listings and seat reservations."""
        self._metadata.update(metadata)
        self._save_listing()

    def set_seat_reservation_time(self, seconds: float) -> None:
        """How long a reserved seat waits for its client's WebSocket (default 15 s)."""
        if seconds <= 0:
            raise ValueError("the seat reservation time must be positive")
        self._seat_reservation_time = float(seconds)

    def lock(self) -> None:
        """No more joins (until unlock()); clients in the room are not affected."""
        self._locked_by_hand = True
        self._locked = True
        self._save_listing()

    def unlock(self) -> None:
        self._locked_by_hand = False
        self._locked = False
        self._capacity_changed()

    def _seats_taken(self) -> int:
        return len(self._clients) + len(self._reserved) + len(self._reconnections)

    def _capacity_changed(self) -> None:
        # Lock when full; unlock when a seat frees up, unless locked by hand.
        full = self.max_clients is not None and self._seats_taken() >= self.max_clients
        if full:
            self._locked = True
        elif self._locked and not self._locked_by_hand:
            self._locked = False
        self._save_listing()

    def _save_listing(self) -> None:
        listing = self._listing
        if listing is None:
            return
        listing.clients = self._seats_taken()
        listing.max_clients = self.max_clients
        listing.locked = self._locked
        listing.private = self._private
        listing.metadata = dict(self._metadata) if self._metadata else None
        if self._matchmaker is not None and not self._disposing:
            self._spawn(self._matchmaker.save_listing(listing))

    # ---- seats (called by the matchmaker) ---------------------------------------

    def _reserve_seat(self, session_id: str, options: dict[str, Any], token: str | None) -> bool:
        if self._disposing or (self.max_clients is not None and self._seats_taken() >= self.max_clients):
            return False
        reservation = _Reservation(session_id, options, token)
        reservation.timer = asyncio.get_running_loop().call_later(
            self._seat_reservation_time, self._reservation_expired, session_id)
        self._reserved[session_id] = reservation
        self._capacity_changed()
        return True

    def _reservation_expired(self, session_id: str) -> None:
        if self._reserved.pop(session_id, None) is not None:
            self._capacity_changed()
            self._maybe_dispose()

    def _check_reconnection_token(self, token: str) -> str | None:
        pending = self._reconnections.get(token)
        if pending is None or pending.deferred.done:
            return None
        pending.reconnecting = True
        return pending.client.session_id

    # ---- joining --------------------------------------------------------------

    async def _connect(self, conn: Connection, session_id: str, query: dict[str, str],
                       headers: Mapping[str, str]) -> Client | None:
        """A WebSocket for a reserved seat; returns the client, or None when refused."""
        token = query.get("reconnectionToken")
        if token:
            return self._reconnect(conn, session_id, token)
        reservation = self._reserved.pop(session_id, None)
        if reservation is None or self._disposing:
            _refuse_seat(conn)
            return None
        if reservation.timer is not None:
            reservation.timer.cancel()
        client = Client(session_id, self)
        client._conn = conn
        client._transition(ClientState.JOINING)
        client.reconnection_token = generate_id()
        request = Request(token=query.get("_authToken") or reservation.token, headers=headers,
                          query=dict(query), remote_address=conn.remote_address)
        self._clients.append(client)       # takes the reservation's seat
        if type(self).on_auth is not Room.on_auth:
            try:
                auth = await _call(self.on_auth, client, reservation.options, request)
            except ServerError as e:
                self._refuse_join(client, e.code, e.message)
                return None
            except Exception as e:
                self._report(e, "on_auth")
                self._refuse_join(client, ErrorCode.APPLICATION_ERROR, str(e))
                return None
            if not auth:
                self._refuse_join(client, ErrorCode.AUTH_FAILED, "onAuth failed")
                return None
            client.auth = auth
        if not conn.open:
            self._refuse_join(client, None, "")   # gone while authenticating
            return None
        try:
            await _call(self.on_join, client, reservation.options, client.auth)
        except Exception as e:
            if isinstance(e, ServerError):
                code, message = e.code, e.message
            else:
                self._report(e, "on_join")
                code, message = ErrorCode.APPLICATION_ERROR, str(e)
            await self._leave(client, consented=False)
            if conn.open:
                conn.send(protocol.error(code, message))
                conn.close(CloseCode.WITH_ERROR)
            return None
        conn.send(protocol.join_room(client.reconnection_token, self._serializer, self._handshake))
        return client

    @property
    def _serializer(self) -> str:
        return "schema" if self._state is not None else "none"

    def _refuse_join(self, client: Client, code: int | None, message: str) -> None:
        conn = client._conn
        self._remove(client)
        client._transition(ClientState.GONE)
        if conn is not None and conn.open and code is not None:
            conn.send(protocol.error(code, message))
            conn.close(CloseCode.WITH_ERROR)
        self._capacity_changed()
        self._maybe_dispose()

    def _reconnect(self, conn: Connection, session_id: str, token: str) -> Client | None:
        pending = self._reconnections.get(token)
        if (pending is None or pending.client.session_id != session_id or not pending.reconnecting
                or pending.deferred.done or self._disposing):
            _refuse_seat(conn)
            return None
        del self._reconnections[token]
        if pending.timer is not None:
            pending.timer.cancel()
        client = pending.client
        client._conn = conn
        client._transition(ClientState.JOINING)
        client.reconnection_token = generate_id()
        self._clients.append(client)
        self._capacity_changed()
        pending.deferred.resolve(client)
        conn.send(protocol.join_room(client.reconnection_token, self._serializer, self._handshake))
        return client

    def _on_ack(self, client: Client) -> None:
        if client.state is not ClientState.JOINING:
            return   # a second ack is ignored
        client._was_joined = True
        if self._encoder is not None:
            # The full state includes the pending changes: send those to the others
            # first, so that no client gets them twice.
            if self._encoder.has_changes:
                self._send_patch(exclude=client)
            client._transition(ClientState.JOINED)
            client._raw(protocol.room_state(self._full_state()))
        else:
            client._transition(ClientState.JOINED)
        client._flush_queue()

    # ---- leaving --------------------------------------------------------------

    def _remove(self, client: Client) -> None:
        if client in self._clients:
            self._clients.remove(client)

    async def _consented_leave(self, client: Client) -> None:
        if client.state not in (ClientState.JOINING, ClientState.JOINED):
            return
        conn = client._conn
        await self._leave(client, consented=True)
        if conn is not None:
            conn.close(CloseCode.CONSENTED)

    async def _on_close(self, client: Client, code: int | None) -> None:
        """The client's socket closed (called by the transport)."""
        if client.state in (ClientState.JOINING, ClientState.JOINED):
            await self._leave(client, consented=code == CloseCode.CONSENTED)

    async def _leave(self, client: Client, consented: bool) -> None:
        client._transition(ClientState.LEAVING)
        self._remove(client)
        self._leaving += 1
        try:
            await _call(self.on_leave, client, consented)
        except Exception as e:
            if not isinstance(e, asyncio.CancelledError):
                self._report(e, "on_leave")
        finally:
            self._leaving -= 1
            if client.state is ClientState.LEAVING:
                client._transition(ClientState.GONE)
            self._capacity_changed()
            self._maybe_dispose()

    def allow_reconnection(self, client: Client, seconds: float | str = "manual") -> Deferred[Client]:
        """Keep a non-consented leaver's seat; await the result for the reconnected client.

        ``seconds``: how long to wait ("manual": until ``reject()``). Awaiting
        raises ``ReconnectionRejected`` on timeout, on ``reject()``, or when the
        room is disconnected.
        """
        deferred: Deferred[Client] = Deferred()
        if self._disposing:
            deferred.reject("disposing")
            return deferred
        if client.state is not ClientState.LEAVING or not client._was_joined:
            deferred.reject("not joined")
            return deferred
        pending = _PendingReconnection(client, deferred)
        token = client.reconnection_token
        client._transition(ClientState.RECONNECTING)
        self._reconnections[token] = pending
        if seconds != "manual":
            if not isinstance(seconds, (int, float)) or seconds < 0:
                raise ValueError('seconds is a non-negative number or "manual"')
            pending.timer = asyncio.get_running_loop().call_later(float(seconds), deferred.reject, "timeout")
        deferred._future.add_done_callback(lambda _: self._reconnection_settled(token, pending))
        self._capacity_changed()
        return deferred

    def _reconnection_settled(self, token: str, pending: _PendingReconnection) -> None:
        if pending.timer is not None:
            pending.timer.cancel()
        if not pending.deferred.rejected:
            return
        if self._reconnections.get(token) is pending:
            del self._reconnections[token]
        if pending.client.state is ClientState.RECONNECTING:
            pending.client._transition(ClientState.GONE)
        self._capacity_changed()
        self._maybe_dispose()

    # ---- disconnecting and disposing -----------------------------------------------

    async def disconnect(self, close_code: int = CloseCode.CONSENTED) -> None:
        """Close every client (``on_leave`` runs for each), then dispose; returns when done."""
        if self._disposing:
            if self._disposed is not None:
                await self._disposed.wait()
            return
        self._disposing = True
        if self._matchmaker is not None:
            await self._matchmaker.unregister(self)
        for pending in list(self._reconnections.values()):
            pending.deferred.reject("disconnecting")
        for reservation in self._reserved.values():
            if reservation.timer is not None:
                reservation.timer.cancel()
        self._reserved.clear()
        await asyncio.gather(*(self._kick(c, close_code) for c in list(self._clients)))
        while self._leaving:
            await asyncio.sleep(0.01)
        await self._dispose()

    async def _kick(self, client: Client, close_code: int) -> None:
        conn = client._conn
        if client.state in (ClientState.JOINING, ClientState.JOINED):
            await self._leave(client, consented=close_code == CloseCode.CONSENTED)
        if conn is not None:
            conn.close(close_code)

    def _maybe_dispose(self) -> None:
        if (self.auto_dispose and self._started and not self._disposing and not self._creating
                and not self._clients and not self._reserved and not self._reconnections and not self._leaving):
            self._disposing = True
            self._spawn(self._dispose())

    async def _dispose(self) -> None:
        assert self._disposed is not None
        if self._disposed.is_set():
            return
        self._disposing = True
        self._stop_loops()
        for reservation in self._reserved.values():
            if reservation.timer is not None:
                reservation.timer.cancel()
        if self._matchmaker is not None:
            await self._matchmaker.unregister(self)
        try:
            await _call(self.on_dispose)
        except Exception as e:
            self._report(e, "on_dispose")
        finally:
            if self._encoder is not None:
                self._encoder.close()
            self._disposed.set()
            log.debug("room %s (%s) disposed", self._room_id, self._room_name)

    # ---- running ----------------------------------------------------------------

    def _attach(self, matchmaker: Matchmaker, name: str, presence: Presence, dev_mode: bool) -> None:
        self._matchmaker = matchmaker
        self._room_name = name
        self._presence = presence
        self._dev_mode = dev_mode
        self._room_id = generate_id()
        self._disposed = asyncio.Event()
        _ = self.clock

    def _start(self) -> None:
        self._started = True
        self._restart_ticker()

    def _abandon(self) -> None:
        # on_create failed: the room never existed for anyone.
        self._disposing = True
        self._stop_loops()
        if self._encoder is not None:
            self._encoder.close()
        if self._disposed is not None:
            self._disposed.set()

    def _cancel_ticker(self) -> None:
        # A ticker that is running this very code (a simulation callback changed
        # the schedule or disposed the room) is not cancelled, which would abort
        # the callback at its next await: it sees the new generation and returns.
        self._ticker_gen += 1
        if self._ticker is not None and self._ticker is not asyncio.current_task():
            self._ticker.cancel()
        self._ticker = None

    def _restart_ticker(self) -> None:
        self._cancel_ticker()
        if self._disposed is None or self._disposing:
            return      # not running yet (_start starts it) or going away
        if self._sim_callback is not None or (self._patch_rate and self._started):
            self._ticker = self._spawn(self._run_ticker(), "ticker")

    def _stop_loops(self) -> None:
        self._cancel_ticker()
        if self._clock is not None:
            self._clock.stop()

    async def _run_ticker(self) -> None:
        # One schedule for the simulation and the patches, so that with equal
        # periods every patch follows exactly one simulation step (two timers
        # would drift against each other and skip or double patches). Each runs
        # at a fixed rate that catches up once after a stall, never in a burst.
        loop = asyncio.get_running_loop()
        gen = self._ticker_gen
        sim, sim_period = self._sim_callback, self._sim_ms / 1000
        patch_period = self._patch_rate / 1000 if self._patch_rate and self._started else None
        start = loop.time()
        next_sim = start + sim_period if sim is not None else math.inf
        next_patch = start + patch_period if patch_period else math.inf
        while True:
            await asyncio.sleep(max(0.0, min(next_sim, next_patch) - loop.time()))
            now = loop.time()
            if sim is not None and next_sim <= now:
                next_sim = next_sim + sim_period if next_sim + sim_period > now else now + sim_period
                try:
                    await self._simulate(sim)
                except Exception as e:
                    self._report(e, "simulation interval")
                if gen != self._ticker_gen:
                    return      # the callback replaced the schedule or stopped the room
            if patch_period and next_patch <= now:
                next_patch = next_patch + patch_period if next_patch + patch_period > now else now + patch_period
                try:
                    self.broadcast_patch()
                except Exception as e:
                    self._report(e, "patch")
                if gen != self._ticker_gen:
                    return

    def _spawn(self, awaitable: Any, what: str = "task") -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(awaitable)
        self._tasks.add(task)

        def done(t: asyncio.Future[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                self._report(t.exception(), what)  # type: ignore[arg-type]
        task.add_done_callback(done)
        return task

    def _notify(self, event: str, *args: Any) -> None:
        # Observers (the pytest helpers) see what the room did: "message" (client,
        # type, message), "patch" (bytes), "tick" (delta ms).
        for observer in list(self._observers):
            try:
                observer(event, *args)
            except Exception as e:
                self._report(e, "observer")

    def _report(self, e: BaseException, where: str = "callback") -> None:
        log.error("room %s (%s): %s raised %s", self._room_id, self._room_name, where, type(e).__name__,
                  exc_info=(type(e), e, e.__traceback__))


def _refuse_seat(conn: Connection) -> None:
    # What the reference does for an unknown room, session or expired seat:
    # accept the socket, ERROR with code 0, close 4002.
    conn.send(protocol.error(0, "seat reservation expired."))
    conn.close(CloseCode.WITH_ERROR)
