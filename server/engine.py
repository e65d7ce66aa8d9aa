"""The engine of one room: its lifecycle, its clients, its seats, its patches.

A ``RoomEngine`` runs one application ``Room``. It is the room's ``RoomHost``
(what the room's public methods ask for), and the named API through which the
matchmaker (``create``, ``start``, ``reserve_seat``, ``shutdown``...) and the
socket sessions (``claim_seat``, ``seat``, ``acknowledge``, ``dispatch``,
``leave``...) drive it. The room's lifecycle is one explicit state::

    CREATING --on_create returned--> RUNNING --disconnect, or empty--> DISPOSING --> DISPOSED
    CREATING --on_create failed--> DISPOSED

Whether the room is locked is separate: locked by hand, or full.
"""
from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Protocol

from pyseus import protocol
from pyseus._callbacks import Tasks, fire, invoke, remover
from pyseus.protocol import CloseCode, ErrorCode, ResponseStatus, RoomListing, generations, new_id
from pyseus.schema import Encoder, Reflection, Schema

from .client import IN_ROOM, Client, ClientList, ClientState
from .clock import Clock
from .deferred import Deferred
from .errors import RequestRejected, ServerError
from .limits import FrameMeter, Limits
from .presence import Presence
from .room import MessageHandler, Room
from .seats import Reservation, Seats
from .ticker import Ticker
from .transport import Connection

__all__ = ["RoomEngine", "RoomPhase", "RoomRegistry"]

log = logging.getLogger("pyseus.server.room")


class RoomPhase(enum.Enum):
    CREATING = "creating"        # on_create is running
    RUNNING = "running"
    DISPOSING = "disposing"      # disconnecting its clients, running on_dispose
    DISPOSED = "disposed"


_TRANSITIONS = {
    RoomPhase.CREATING: {RoomPhase.RUNNING, RoomPhase.DISPOSED},
    RoomPhase.RUNNING: {RoomPhase.DISPOSING},
    RoomPhase.DISPOSING: {RoomPhase.DISPOSED},
    RoomPhase.DISPOSED: set(),
}


class RoomRegistry(Protocol):
    """What an engine needs from the matchmaker that created it."""

    async def save_listing(self, listing: RoomListing) -> None:
        """Store the listing's current values."""

    async def unregister(self, engine: RoomEngine) -> None:
        """The room is going away: no more seats in it, and no listing."""

    async def query(self, conditions: dict[str, Any]) -> list[RoomListing]:
        """Listings (of every process) whose fields equal ``conditions``."""

    @property
    def restarting(self) -> bool:
        """The process is shutting down to start again (clients may reconnect)."""


class RoomEngine:
    """Runs one ``Room`` (see the module documentation)."""

    def __init__(self, room: Room[Any], name: str, registry: RoomRegistry, presence: Presence, *,
                 process_id: str, public_address: str | None = None, filters: dict[str, Any] | None = None,
                 dev_mode: bool = False, profile: str = "auto", limits: Limits | None = None) -> None:
        self.room = room
        self.limits = limits or Limits()
        self.room_id = new_id()
        self.room_name = name
        self.presence = presence
        self.dev_mode = dev_mode
        self.profile = profile
        self.phase = RoomPhase.CREATING
        self.listing = RoomListing(room_id=self.room_id, name=name, process_id=process_id,
                                   public_address=public_address, filters=dict(filters or {}))
        self.tasks = Tasks(self.report)
        self._registry = registry
        self._listing_dirty = False
        self._listing_saver: asyncio.Future[Any] | None = None
        self._clients: list[Client] = []
        self._client_list = ClientList(self._clients)
        self._seats = Seats(self._seats_changed)
        self._encoder: Encoder | None = None
        self._handshakes: dict[int, bytes] = {}   # the state's reflection, by form (3 or 5)
        self._full_cache: bytes | None = None
        # (one client, or None for everyone but the excluded ones; frame; excluded)
        self._after_patch: list[tuple[Client | None, bytes, frozenset[Client]]] = []
        self._leaving = 0
        self._no_leaves = asyncio.Event()      # set while no on_leave is running
        self._no_leaves.set()
        self._disposed = asyncio.Event()
        self._observers: list[Callable[..., None]] = []
        self._hooks: dict[int, str] = {}          # the hooks running now (what a shutdown waits for)
        self._reservations_logged = False
        self._hook_ids = itertools.count()
        self._clock = Clock(on_error=lambda e: self.report(e, "clock callback"))
        self._ticker = Ticker(self._simulate, self.broadcast_patch, self.tasks.spawn, self.report)
        room._host = self

    def __repr__(self) -> str:
        return f"<RoomEngine {self.room_id} ({self.room_name}) {self.phase.value}>"

    def _to(self, phase: RoomPhase) -> None:
        if phase not in _TRANSITIONS[self.phase]:
            raise RuntimeError(f"room {self.room_id}: {self.phase.value} -> {phase.value} is not a valid transition")
        self.phase = phase

    # ================================================================ RoomHost

    @property
    def creating(self) -> bool:
        return self.phase is RoomPhase.CREATING

    @property
    def clients(self) -> ClientList:
        return self._client_list

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def locked(self) -> bool:
        return self.room._locked_by_hand or self._full()

    def use_state(self, state: Schema) -> None:
        if self._clients:
            raise RuntimeError("set_state() after clients joined: they would keep the old types")
        if self._encoder is not None:
            self._encoder.close()
        self._encoder = Encoder(state)
        self._handshakes = {}
        self._full_cache = None
        self.reschedule()

    def reschedule(self) -> None:
        simulation = self.room._simulation
        self._clock.drive(simulation is not None)
        if self.phase is RoomPhase.RUNNING:
            # a room without a state has no patches to send: it ticks only for its simulation
            patch_rate = self.room._patch_rate if self._encoder is not None else None
            self._ticker.start(simulation[1] if simulation is not None else None, patch_rate)

    def broadcast_patch(self) -> bool:
        sent = False
        try:
            if type(self.room).on_before_patch is not Room.on_before_patch:
                self.room.on_before_patch(self.room._state)
            sent = self._send_patch()
        finally:
            self._deliver_after_patch()
        return sent

    def broadcast(self, frame: bytes, excluded: frozenset[Client], after_next_patch: bool) -> None:
        if after_next_patch:
            self._after_patch.append((None, frame, excluded))
            return
        for c in list(self._clients):
            if c not in excluded:
                c.enqueue(frame)

    def send_after_patch(self, client: Client, frame: bytes) -> None:
        self._after_patch.append((client, frame, frozenset()))

    def listing_changed(self) -> None:
        listing = self.listing
        listing.clients = self._seats_taken()
        listing.max_clients = self.room.max_clients
        listing.locked = self.locked
        listing.private = self.room._private
        listing.unlisted = self.room._unlisted
        listing.metadata = dict(self.room._metadata) if self.room._metadata else None
        if self.phase is RoomPhase.RUNNING:
            self._listing_dirty = True
            if self._listing_saver is None:
                self._listing_saver = self.tasks.spawn(self._save_listing(), "saving the listing")

    async def _save_listing(self) -> None:
        # One save of this room's listing at a time, the latest values each time:
        # saves in flight together could reach the driver in another order (Redis:
        # a pool of connections) and leave an older listing behind the newer one.
        try:
            while self._listing_dirty:
                self._listing_dirty = False
                await self._registry.save_listing(self.listing)
        finally:
            self._listing_saver = None

    async def _unregister(self) -> None:
        # (after the save in flight, so that no listing is written after its removal)
        saver = self._listing_saver
        self._listing_dirty = False
        if saver is not None:
            await asyncio.wait([saver])     # (its failure, if any, is reported by self.tasks)
        await self._registry.unregister(self)

    def allow_reconnection(self, client: Client, seconds: float | str) -> Deferred[Client]:
        if self.phase is not RoomPhase.RUNNING:
            deferred: Deferred[Client] = Deferred()
            deferred.reject("disposing")
            return deferred
        return self._seats.hold(client, seconds)

    async def disconnect(self, close_code: int) -> None:
        if self.phase is RoomPhase.CREATING:
            raise RuntimeError("disconnect() cannot be called from on_create (raise an error instead)")
        if self.phase is not RoomPhase.RUNNING:
            await self._disposed.wait()
            return
        self._to(RoomPhase.DISPOSING)
        await self._unregister()
        self._seats.release_all("disconnecting")
        await asyncio.gather(*(self._kick(c, close_code) for c in list(self._clients)))
        await self._no_leaves.wait()
        await self._dispose()

    async def listings(self, conditions: dict[str, Any]) -> list[RoomListing]:
        return await self._registry.query(conditions)

    def _close_code_for(self, close_code: int) -> int:
        # SERVER_SHUTDOWN stands for "the shutdown code of the profile" (4000 in 0.16)
        if close_code != CloseCode.SERVER_SHUTDOWN:
            return close_code
        return generations.shutdown_close_code(self.profile)

    # ================================================================ for the matchmaker

    async def create(self, options: dict[str, Any]) -> None:
        """Run ``on_create``; raises ServerError when it fails (the room is then gone)."""
        try:
            await invoke(self.room.on_create, options)
        except ServerError:
            self.abandon()
            raise
        except Exception as e:
            self.report(e, "on_create")
            self.abandon()
            raise ServerError(ErrorCode.MATCHMAKE_UNHANDLED, self.public_text(e)) from None
        self.listing.room_id = self.room_id

    def start(self) -> None:
        """The room is registered: start its loops and publish its listing."""
        self._to(RoomPhase.RUNNING)
        self.reschedule()
        self.listing_changed()
        log.info("room %s (%s) created", self.room_id, self.room_name)

    def abandon(self) -> None:
        """``on_create`` failed, or the room could not be registered: it never existed for anyone."""
        self._to(RoomPhase.DISPOSED)
        self._stop_loops()
        if self._encoder is not None:
            self._encoder.close()
        self._disposed.set()

    @property
    def restarting(self) -> bool:
        return self._registry.restarting

    @property
    def available(self) -> bool:
        """Open to join and join_or_create: running, unlocked, public, not too many seats waiting."""
        return (self.phase is RoomPhase.RUNNING and not self.locked and not self.room._private
                and self._seats.reserved < (self.room.max_reservations or self.limits.max_reservations))

    @property
    def running(self) -> bool:
        return self.phase is RoomPhase.RUNNING

    @property
    def ticking(self) -> bool:
        """The room has a loop (for its simulation, or for patches of its state)."""
        return self._ticker.running

    def reserve_seat(self, session_id: str, options: dict[str, Any], token: str | None) -> bool:
        """Hold a seat for ``session_id`` (False when the room is full, has as many
        unclaimed seats as it may, or is going away)."""
        if self.phase is not RoomPhase.RUNNING or self._full() or self._reservations_full():
            return False
        self._seats.reserve(session_id, options, token, self.room._seat_reservation_time)
        return True

    def _reservations_full(self) -> bool:
        limit = self.room.max_reservations or self.limits.max_reservations
        if self._seats.reserved < limit:
            self._reservations_logged = False
            return False
        if not self._reservations_logged:         # (once until the seats go down again)
            self._reservations_logged = True
            log.warning("room %s (%s): %d seats are reserved and not claimed yet (limit max_reservations): "
                        "refusing more", self.room_id, self.room_name, self._seats.reserved)
        return True

    def rates(self) -> tuple[float, float]:
        """The messages and bytes per second one client may send to this room."""
        room, limits = self.room, self.limits
        return (room.max_messages_per_second or limits.messages_per_second,
                room.max_bytes_per_second or limits.bytes_per_second)

    def frame_meter(self) -> FrameMeter:
        """The budget of one socket to this room (the bursts scale with the room's rates)."""
        limits = self.limits
        messages, nbytes = self.rates()
        return FrameMeter(messages, max(limits.message_burst * messages / limits.messages_per_second, 1.0),
                          nbytes, max(limits.byte_burst * nbytes / limits.bytes_per_second, 4096.0))

    def check_reconnection_token(self, token: str) -> str | None:
        """The HTTP step of a reconnection: the session id waiting on ``token``, if any."""
        return self._seats.check_token(token)

    async def shutdown(self) -> None:
        """The server stops: lock, run ``on_before_shutdown``, and make sure the room goes."""
        self.room.lock()
        try:
            with self._hook("on_before_shutdown"):
                await self.room.on_before_shutdown()
        except Exception as e:
            self.report(e, "on_before_shutdown")
        if not self._disposed.is_set():
            await self.disconnect(CloseCode.SERVER_SHUTDOWN)

    async def wait_disposed(self) -> None:
        await self._disposed.wait()

    def unfinished(self) -> list[str]:
        """What keeps this room from being disposed (for the log of a shutdown that timed out)."""
        if self.phase is RoomPhase.DISPOSED:
            return []
        hooks = ", ".join(self._hooks.values()) or f"{self.phase.value}, no hook running"
        return [f"room {self.room_id} ({self.room_name}): {hooks}"]

    def abandon_running(self) -> None:
        """A shutdown gave up waiting: cancel what the room still runs and stop its loops."""
        self.tasks.cancel()
        self._stop_loops()
        self._seats.release_all("shutdown")

    @contextlib.contextmanager
    def _hook(self, name: str, client: Client | None = None) -> Iterator[None]:
        key = next(self._hook_ids)
        self._hooks[key] = f"{name}({client.session_id})" if client is not None else name
        try:
            yield
        finally:
            del self._hooks[key]

    def public_text(self, e: BaseException) -> str:
        """What a client is told of an exception in the room's code: its text in dev
        mode only (the log has the whole of it)."""
        return str(e) if self.dev_mode else "internal error"

    # ================================================================ for socket sessions

    @property
    def serializer(self) -> str:
        return "schema" if self._encoder is not None else "none"

    def _handshake(self, version: int) -> bytes:
        if self._encoder is None:
            return b""
        if version not in self._handshakes:
            self._handshakes[version] = Reflection.encode(self._encoder.state, version=version)
        return self._handshakes[version]

    def join_frame(self, client: Client, skip_handshake: bool = False) -> bytes:
        """JOIN_ROOM for ``client``, as the server's profile writes it (no handshake when
        the client says it has one already)."""
        send = self._encoder is not None and not skip_handshake
        needs5 = send and self.profile in ("0.18", "auto")
        return generations.join_room_frame(
            self.profile, client.reconnection_token, self.serializer,
            self._handshake(3) if send and self.profile != "0.18" else b"",
            self._handshake(5) if needs5 else b"")

    def claim_seat(self, session_id: str) -> Reservation | None:
        """The reservation a socket comes to claim (None: none, expired, or the room is going)."""
        if self.phase is not RoomPhase.RUNNING:
            return None
        return self._seats.claim(session_id)

    def seat(self, conn: Connection, reservation: Reservation) -> Client:
        """A client takes its claimed seat (JOINING, with a fresh reconnection token)."""
        client = Client(reservation.session_id, self, conn, queue_limit=self.limits.join_queue_bytes)
        client.reconnection_token = new_id()
        self._clients.append(client)
        return client

    def refuse(self, client: Client, code: int | None, message: str) -> None:
        """Turn a joining client away (an ERROR then close 4002; nothing when ``code`` is None)."""
        conn = client.connection
        self._remove(client)
        client.transition(ClientState.GONE)
        if conn is not None and conn.open and code is not None:
            refuse_connection(conn, self.profile, code, message, self.dev_mode)
        self.listing_changed()
        self._maybe_dispose()

    def joined(self, client: Client) -> None:
        """``on_join`` accepted the client (its JOIN_ROOM is on its way): it has
        ``join_ack_timeout`` seconds to acknowledge it."""
        log.info("room %s (%s): %s joined", self.room_id, self.room_name, client.session_id)
        self.expect_ack(client)

    def expect_ack(self, client: Client) -> None:
        """JOIN_ROOM went to ``client``: drop it unless it acknowledges in time."""
        def expired() -> None:
            if client.state is ClientState.JOINING and conn is not None and client.connection is conn:
                log.warning("room %s (%s): %s did not acknowledge JOIN_ROOM within %s s (limit join_ack_timeout); "
                            "closing it", self.room_id, self.room_name, client.session_id,
                            self.limits.join_ack_timeout)
                conn.cut(CloseCode.WITH_ERROR, "join not acknowledged")
        conn = client.connection
        client.ack_timer = asyncio.get_running_loop().call_later(self.limits.join_ack_timeout, expired)

    async def reconnect(self, conn: Connection, session_id: str, token: str) -> Client | None:
        """A socket with a reconnection token takes a dropped client's seat back.

        0.17+ clients come back with the WebSocket alone, possibly while their old
        socket still looks open: that socket is then dropped, and the seat claimed
        once the room allowed the reconnection (within the seat reservation time).
        0.16 clients must have made the HTTP reconnect step first.
        """
        if self.phase is not RoomPhase.RUNNING:
            return None
        legacy = generations.legacy(self.profile)
        stale = self._client_list.get(session_id)
        if (not legacy and stale is not None and stale.reconnection_token == token
                and stale.state in IN_ROOM and stale.connection is not conn):
            old = stale.connection
            if old is not None:
                old.close(CloseCode.GOING_AWAY, "reconnected from another connection")
            if not await self._seats.wait_held(token, self.room._seat_reservation_time):
                return None
        pending = self._seats.claim_reconnection(session_id, token, after_http=legacy)
        if pending is None or self.phase is not RoomPhase.RUNNING:
            return None
        client = pending.client
        client.reconnected(conn)
        client.reconnection_token = new_id()
        self._clients.append(client)
        self.listing_changed()
        pending.deferred.resolve(client)
        log.info("room %s (%s): %s reconnected", self.room_id, self.room_name, session_id)
        return client

    def acknowledge(self, client: Client) -> None:
        """The client acknowledged JOIN_ROOM: send the full state, then what was queued."""
        if client.state is not ClientState.JOINING:
            return   # a second ack is ignored
        if client.ack_timer is not None:
            client.ack_timer.cancel()
            client.ack_timer = None
        client.was_joined = True
        encoder = self._encoder
        if encoder is not None:
            # The full state includes the pending changes: send those to the others
            # first, so that no client gets them twice (the same goes for views,
            # whose clients must be up to date before another one joins them).
            if encoder.has_changes or encoder.views:
                self._send_patch(exclude=client)
            client.transition(ClientState.JOINED)
            full = self._full_state()
            if encoder.views and client.view is not None:
                full += encoder.encode_all_view(client.view)
            client.send_frame(protocol.room_state(full))
        else:
            client.transition(ClientState.JOINED)
        client.flush_queue()

    def ping(self, client: Client) -> None:
        """PING (0.17+): answered with the same byte."""
        if not generations.legacy(self.profile):
            client.send_frame(protocol.ping())

    def dispatch(self, client: Client, frame: protocol.RoomData | protocol.RoomDataBytes) -> None:
        """A message from ``client`` to the room's handlers."""
        try:
            message = frame.message() if isinstance(frame, protocol.RoomData) else frame.data
        except protocol.ProtocolError as e:
            log.info("room %s: %s sent %s", self.room_id, client.session_id, e)
            client.leave(CloseCode.WITH_ERROR)
            return
        handlers = self.room._handlers
        key = frame.type if frame.type.__class__ is str else str(frame.type)
        handler = handlers.get(key)
        if isinstance(frame, protocol.RoomDataBytes):
            handler = self.room._bytes_handlers.get(key, handler)
        args: tuple[Any, ...]
        if handler is not None:
            callback = handler.callback
            if handler.validate is not None:
                try:
                    message = handler.validate(message)
                except Exception as e:
                    log.info("room %s: message %r from %s failed validation: %s",
                             self.room_id, frame.type, client.session_id, e)
                    client.leave(CloseCode.WITH_ERROR)
                    return
            args = (client, message)
        elif "*" in handlers:
            callback = handlers["*"].callback
            args = (client, frame.type, message)
        else:
            reason = f'room onMessage for "{frame.type}" not registered.'
            log.warning("room %s (%s): %s sent a message of unknown type %r", self.room_id, self.room_name,
                        client.session_id, frame.type)
            if self.dev_mode:
                client.error(ErrorCode.INVALID_PAYLOAD, reason)
            else:
                client.leave(CloseCode.WITH_ERROR, reason)
            return
        if self._observers:
            self._notify("message", client, frame.type, message)
        fire(callback, args, self.tasks, lambda: f"message {frame.type!r} handler")

    def answer(self, client: Client, request: protocol.RoomRequest) -> None:
        """A ROOM_REQUEST (0.18): the handler of its type answers with what it returns."""
        if generations.legacy(self.profile) or self.profile == "0.17":
            return                      # (those servers ignore the code)
        self.tasks.spawn(self._answer(client, request), f"request {request.type!r}")

    async def _answer(self, client: Client, request: protocol.RoomRequest) -> None:
        payload: Any = None
        status = ResponseStatus.OK
        handler: MessageHandler | None = self.room._handlers.get(str(request.type))
        try:
            message = request.message()
            if handler is None:
                status, payload = ResponseStatus.ERROR, {
                    "name": "no_handler",
                    "message": f'room "{self.room_name}" has no onMessage("{request.type}") handler to answer '
                               "this request."}
            else:
                if handler.validate is not None:
                    message = handler.validate(message)
                self._notify("message", client, request.type, message)
                payload = await invoke(handler.callback, client, message)
        except RequestRejected as e:
            status, payload = ResponseStatus.REJECTED, e.reason
        except ServerError as e:
            status, payload = ResponseStatus.ERROR, {"name": "ServerError", "message": e.message, "code": e.code}
        except Exception as e:
            self.report(e, f"request {request.type!r} handler", client)
            status, payload = ResponseStatus.ERROR, {"name": "Error", "message": self.public_text(e)}
        try:
            frame = protocol.room_response(request.request_id, status, payload)
        except (TypeError, ValueError, OverflowError) as e:
            self.report(e, f"request {request.type!r} answer")
            frame = protocol.room_response(request.request_id, ResponseStatus.ERROR,
                                           {"name": "Error", "message": "the answer cannot be sent"})
        client.enqueue(frame)

    async def leave(self, client: Client, code: int | None, *, consented: bool | None = None,
                    drop: bool = True) -> None:
        """The client is leaving (its close code; ``consented`` when the server closes it
        gracefully with another code): ``on_drop`` (unless ``drop`` is false) or
        ``on_leave`` runs, then the room may dispose itself."""
        consented = code == CloseCode.CONSENTED if consented is None else consented
        client.transition(ClientState.LEAVING)
        self._remove(client)
        self._begin_leave()
        log.info("room %s (%s): %s left (%s, code %s)", self.room_id, self.room_name, client.session_id,
                 "consented" if consented else "not consented", code)
        held = None
        hook = "on_leave"
        try:
            if drop and not consented and type(self.room).on_drop is not Room.on_drop:
                hook = "on_drop"
                with self._hook(hook, client):
                    await invoke(self.room.on_drop, client, code)
                held = self._seats.held_for(client)
                if held is None:
                    hook = "on_leave"
                    with self._hook(hook, client):
                        await invoke(self.room.on_leave, client, False)
            else:
                with self._hook(hook, client):
                    await invoke(self.room.on_leave, client, consented)
        except Exception as e:
            if not isinstance(e, asyncio.CancelledError):
                self.report(e, hook, client)
        finally:
            if held is not None:
                # the leave ends when the reconnection allowed in on_drop is settled
                self._begin_leave()
                self._after_held(client, held)
            self._end_leave(client)

    def _after_held(self, client: Client, held: Deferred[Client]) -> None:
        def settled() -> None:
            self.tasks.spawn(self._after_drop(client, held), "on_leave")
        held.add_done_callback(settled)

    async def _after_drop(self, client: Client, held: Deferred[Client]) -> None:
        try:
            if held.rejected:
                with self._hook("on_leave", client):
                    await invoke(self.room.on_leave, client, False)
        except Exception as e:
            self.report(e, "on_leave", client)
        finally:
            self._end_leave(client)

    def _begin_leave(self) -> None:
        self._leaving += 1
        self._no_leaves.clear()

    def _end_leave(self, client: Client) -> None:
        self._leaving -= 1
        if not self._leaving:
            self._no_leaves.set()
        if client.state is ClientState.LEAVING:
            client.transition(ClientState.GONE)
        self._maybe_dispose()
        self.listing_changed()      # (not published when the room is going: lobbies hear of the dispose)

    # ================================================================ observing (pyseus.testing)

    def observe(self, observer: Callable[..., None]) -> Callable[[], None]:
        """``observer(event, *args)`` for what the room does: ``"message"`` (client, type,
        message), ``"patch"`` (bytes), ``"tick"`` (delta ms). Returns its remover."""
        self._observers.append(observer)
        return remover(self._observers, observer)

    def _notify(self, event: str, *args: Any) -> None:
        for observer in list(self._observers):
            try:
                observer(event, *args)
            except Exception as e:
                self.report(e, "observer")

    # ================================================================ internals

    def report(self, e: BaseException, where: str = "callback", client: Client | None = None) -> None:
        """Log an exception of the room's code (it stays in the room)."""
        log.error("room %s (%s)%s: %s raised %s", self.room_id, self.room_name,
                  f", client {client.session_id}" if client is not None else "", where, type(e).__name__,
                  exc_info=(type(e), e, e.__traceback__))

    def _seats_taken(self) -> int:
        return len(self._clients) + len(self._seats)

    def _full(self) -> bool:
        max_clients = self.room.max_clients
        return max_clients is not None and self._seats_taken() >= max_clients

    def _seats_changed(self) -> None:
        self.listing_changed()
        self._maybe_dispose()

    def _remove(self, client: Client) -> None:
        if client in self._clients:
            self._clients.remove(client)

    def _simulate(self) -> Awaitable[None] | None:
        # (the ticker awaits what is returned: only a coroutine simulation returns something)
        simulation = self.room._simulation
        if simulation is None:
            return None
        self._clock.tick()
        result = simulation[0](self._clock.delta_time)
        if result is not None and inspect.isawaitable(result):
            return self._simulated(result)
        if self._observers:
            self._notify("tick", self._clock.delta_time)
        return None

    async def _simulated(self, step: Awaitable[Any]) -> None:
        await step
        self._notify("tick", self._clock.delta_time)

    def _send_patch(self, exclude: Client | None = None) -> bool:
        encoder = self._encoder
        if encoder is None:
            return False
        state = ClientState.JOINED
        joined = [c for c in self._clients if c.state is state and c is not exclude]
        if not joined:
            encoder.discard()
            self._full_cache = None
            return False
        patch = encoder.encode()
        if encoder.views:
            return self._send_view_patches(encoder, patch, joined)
        if not patch:
            return False
        self._full_cache = None
        frame = protocol.room_patch(patch)
        for c in joined:
            c.send_frame(frame)
        if self._observers:
            self._notify("patch", patch)
        return True

    def _send_view_patches(self, encoder: Encoder, patch: bytes, joined: list[Client]) -> bool:
        # The shared patch once; each distinct view's part once, after it, in the
        # same frame (clients without a view get the shared patch alone).
        frames: dict[int, bytes | None] = {}
        shared = protocol.room_patch(patch) if patch else None
        sent = False
        for c in joined:
            view = c.view
            key = id(view)
            if key not in frames:
                part = encoder.encode_view(view) if view is not None else b""
                frames[key] = protocol.room_patch(patch + part) if part else shared
            frame = frames[key]
            if frame is not None:
                c.send_frame(frame)
                sent = True
        if patch:
            self._full_cache = None
            if self._observers:
                self._notify("patch", patch)
        return sent

    def _deliver_after_patch(self) -> None:
        if not self._after_patch:
            return
        queued, self._after_patch = self._after_patch, []
        for target, frame, excluded in queued:
            for c in [target] if target is not None else list(self._clients):
                if c not in excluded:
                    c.enqueue(frame)     # still queued for a client that is joining

    def _full_state(self) -> bytes:
        assert self._encoder is not None
        if self._full_cache is None or self._encoder.has_changes:
            self._full_cache = self._encoder.encode_all()
        return self._full_cache

    async def _kick(self, client: Client, close_code: int) -> None:
        conn = client.connection
        code = self._close_code_for(close_code)
        if client.state in IN_ROOM:
            await self.leave(client, code, consented=close_code in (CloseCode.CONSENTED, CloseCode.SERVER_SHUTDOWN))
        if conn is not None:
            conn.close(code)

    def _maybe_dispose(self) -> None:
        if (self.room.auto_dispose and self.phase is RoomPhase.RUNNING and not self._clients
                and not len(self._seats) and not self._leaving):
            self._to(RoomPhase.DISPOSING)
            self.tasks.spawn(self._dispose(), "dispose")

    async def _dispose(self) -> None:
        if self._disposed.is_set():
            return
        self._stop_loops()
        self._seats.release_all("disposing")
        await self._unregister()
        try:
            with self._hook("on_dispose"):
                await invoke(self.room.on_dispose)
        except Exception as e:
            self.report(e, "on_dispose")
        finally:
            if self._encoder is not None:
                self._encoder.close()
            self._to(RoomPhase.DISPOSED)
            self._disposed.set()
            log.info("room %s (%s) disposed", self.room_id, self.room_name)

    def _stop_loops(self) -> None:
        self._ticker.stop()
        self._clock.stop()


def refuse_connection(conn: Connection, profile: str, code: int, message: str, dev_mode: bool,
                      reconnecting: bool = False) -> None:
    """A refused WebSocket join: an ERROR with the code as ``profile`` numbers it, then the
    close (4002; 0.17+ use 4003 when a reconnection failed)."""
    conn.send(protocol.error(generations.wire_error_code(code, profile), message))
    conn.close(generations.failed_join_close_code(profile, reconnecting, dev_mode))
