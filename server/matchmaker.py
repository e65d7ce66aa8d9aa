"""Matchmaking: room definitions, creating rooms, and reserving seats.

The HTTP routes (``POST /matchmake/<method>/<name or id>``) come here. A seat
reservation answers with the room's listing and a fresh session id; the client
then opens a WebSocket to claim it within the room's seat reservation time.
Every failure is a ``ServerError`` with the code and message of the reference.
The matchmaker drives each room through its ``RoomEngine``.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from pyseus.protocol import ErrorCode, RoomListing, SeatReservation, new_id

from .cluster import Cluster, RemoteTimeout
from .driver import Driver
from .engine import RoomEngine
from .errors import ServerError
from .limits import Limits, LogOnce
from .lobby import LOBBY_CHANNEL, lobby_message
from .presence import Presence, PresenceError
from .room import Room

__all__ = ["Matchmaker", "RoomDefinition", "METHODS"]

log = logging.getLogger("pyseus.server.matchmaker")

METHODS = ("joinOrCreate", "create", "join", "joinById", "reconnect")

# Find-or-create across processes: how long the lock may be held, and waited for.
_CLUSTER_LOCK_TTL = 3.0
_CLUSTER_LOCK_WAIT = 6.0

# Rooms a joinOrCreate tries before it takes the lock to create one.
_TRIES = 3

# Listing fields a filter cannot shadow.
_RESERVED_FILTERS = {"clients", "locked", "private", "metadata", "name", "processId", "roomId"}


class RoomDefinition:
    """What ``Server.define()`` returns: set how rooms of this name are found."""

    def __init__(self, name: str, room_class: type[Room[Any]], options: dict[str, Any]) -> None:
        self.name = name
        self.room_class = room_class
        self.options = options
        self.filter_keys: list[str] = []
        self.sort_order: dict[str, int] = {}
        self.realtime_listing = False

    def filter_by(self, keys: list[str]) -> RoomDefinition:
        """Only join rooms created with the same client option values for these keys."""
        for key in keys:
            if key in _RESERVED_FILTERS:
                log.warning("filter_by(%r) ignored: it is a listing field", key)
            elif key not in self.filter_keys:
                self.filter_keys.append(key)
        return self

    def sort_by(self, order: Mapping[str, int | str]) -> RoomDefinition:
        """Try candidate rooms in this order: ``{field: 1 | -1 | "asc" | "desc"}``."""
        directions = {"asc": 1, "ascending": 1, "desc": -1, "descending": -1}
        self.sort_order = {k: (directions[v.lower()] if isinstance(v, str) else (1 if v >= 0 else -1))
                           for k, v in order.items()}
        return self

    def enable_realtime_listing(self) -> RoomDefinition:
        """Publish this type's rooms to lobbies (``LobbyRoom``) as they change."""
        self.realtime_listing = True
        return self

    def filters_for(self, options: dict[str, Any]) -> dict[str, Any]:
        return {key: options[key] for key in self.filter_keys if key in options}


@dataclass(frozen=True)
class _Seat:
    """What one matchmaking request asks a room for."""
    options: dict[str, Any]
    token: str | None                     # the Bearer token of the request


class Matchmaker:
    """Rooms of this process and the seat reservations that lead to them (a ``RoomRegistry``)."""

    def __init__(self, presence: Presence, driver: Driver, process_id: str, *, profile: str = "auto",
                 public_address: str | None = None, dev_mode: bool = False, limits: Limits | None = None) -> None:
        self.presence = presence
        self.driver = driver
        self.process_id = process_id
        self.profile = profile
        self.public_address = public_address
        self.dev_mode = dev_mode
        self.limits = limits or Limits()
        self.definitions: dict[str, RoomDefinition] = {}
        self.engines: dict[str, RoomEngine] = {}      # by room id
        self.shutting_down = False
        self.restarting = False
        # one find-or-create at a time per (name, filters), with the number of its users
        self._create_locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}
        self._room_counts: dict[str, int] = {}         # rooms by type (creating ones included)
        self._creating = 0
        self._full = LogOnce(log)
        self._unreachable = LogOnce(log)
        self._stopping: list[RoomEngine] = []          # the rooms a shutdown waits for
        self._lobby_seen: dict[str, str | None] = {}    # what lobbies were last told of each room
        self.cluster = Cluster(presence, driver, process_id)
        self.cluster.on_reconnected = self._save_all_listings

    async def start(self, address: str) -> None:
        """Join the processes that share the presence (``address``: where clients reach this one)."""
        await self.cluster.start(address, self._on_process_request)

    @property
    def rooms(self) -> dict[str, Room[Any]]:
        """The rooms of this process, by room id."""
        return {room_id: engine.room for room_id, engine in self.engines.items()}

    def define(self, name: str, room_class: type[Room[Any]], options: dict[str, Any]) -> RoomDefinition:
        if not name or not all(c.isalnum() or c in "_-" for c in name) or not name.isascii():
            raise ValueError(f"room name {name!r}: use letters, digits, '_' and '-' only")
        if not (isinstance(room_class, type) and issubclass(room_class, Room)):
            raise TypeError("define() needs a Room subclass")
        definition = RoomDefinition(name, room_class, dict(options))
        self.definitions[name] = definition
        return definition

    # ---- the HTTP methods ---------------------------------------------------------

    async def handle(self, method: str, target: str, options: Any, token: str | None) -> dict[str, Any]:
        """Run one matchmaking request; return the seat reservation (raises ServerError)."""
        try:
            reservation = await self._handle(method, target, options, token)
            self._unreachable.clear("presence")
            return reservation
        except PresenceError as e:
            self._unreachable.trigger("presence", "matchmaking fails: %s", e)
            raise ServerError(ErrorCode.MATCHMAKE_UNHANDLED,
                              "matchmaking is unavailable: the shared presence cannot be reached") from None

    async def _handle(self, method: str, target: str, options: Any, token: str | None) -> dict[str, Any]:
        if not isinstance(options, dict):
            options = {}
        if method == "reconnect":
            return await self.reconnect(target, options)
        seat = _Seat(options, token)
        if method == "joinById":
            return await self.join_by_id(target, seat)
        if method not in METHODS:
            raise ServerError(ErrorCode.MATCHMAKE_NO_HANDLER, f'invalid method "{method}"')
        definition = self.definitions.get(target)
        if definition is None:
            raise ServerError(ErrorCode.MATCHMAKE_NO_HANDLER, f'provided room name "{target}" not defined')
        if method == "create":
            listing = await self._create_somewhere(definition, options)
            return await self._reserve_or_fail(listing, seat)
        if method == "join":
            candidates = await self._candidates(definition, options)
            if not candidates:
                raise ServerError(ErrorCode.MATCHMAKE_INVALID_CRITERIA, "no rooms found with provided criteria")
            reservation = await self._reserve_any(candidates, seat)
            if reservation is None:
                raise ServerError(ErrorCode.MATCHMAKE_UNHANDLED, f"{candidates[0].room_id} is already full.")
            return reservation
        return await self.join_or_create(definition, seat)

    async def join_or_create(self, definition: RoomDefinition, seat: _Seat) -> dict[str, Any]:
        options = seat.options
        # One find-or-create at a time per (name, filters): concurrent requests
        # then fill the room the first one created instead of creating more.
        key = (definition.name, repr(sorted(definition.filters_for(options).items())))
        for attempt in range(5):
            # a free seat in a room that exists needs no lock (the hosting process has the
            # last word on its seats); creating one does, here and across processes
            reservation = await self._reserve_any(await self._candidates(definition, options), seat, _TRIES)
            if reservation is not None:
                return reservation
            async with self._create_lock(key), self._cluster_lock(key):
                reservation = await self._reserve_any(await self._candidates(definition, options), seat)
                if reservation is None:
                    reservation = await self._try_reserve(await self._create_somewhere(definition, options), seat)
            if reservation is not None:
                return reservation
            await asyncio.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
        raise ServerError(ErrorCode.MATCHMAKE_UNHANDLED, "could not reserve a seat, every room is full")

    @contextlib.asynccontextmanager
    async def _create_lock(self, key: tuple[str, str]) -> AsyncIterator[None]:
        # the lock of a key lives while someone holds or waits for it (filter values
        # are the client's: keeping every key seen would grow without bound)
        lock, users = self._create_locks.get(key) or (asyncio.Lock(), 0)
        self._create_locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._create_locks[key]
            if users == 1:
                del self._create_locks[key]
            else:
                self._create_locks[key] = (lock, users - 1)

    async def join_by_id(self, room_id: str, seat: _Seat) -> dict[str, Any]:
        listing = await self._listing(room_id)
        if listing is None:
            raise ServerError(ErrorCode.MATCHMAKE_INVALID_ROOM_ID, f'room "{room_id}" not found')
        if listing.locked:
            raise ServerError(ErrorCode.MATCHMAKE_INVALID_ROOM_ID, f'room "{room_id}" is locked')
        return await self._reserve_or_fail(listing, seat)

    async def reconnect(self, room_id: str, options: dict[str, Any]) -> dict[str, Any]:
        listing = await self._listing(room_id)
        if listing is None:
            raise ServerError(ErrorCode.MATCHMAKE_INVALID_ROOM_ID, f'room "{room_id}" has been disposed.')
        token = options.get("reconnectionToken")
        if not token or not isinstance(token, str):
            raise ServerError(ErrorCode.MATCHMAKE_UNHANDLED, "'reconnectionToken' must be provided for reconnection.")
        engine = self.engines.get(room_id)
        if engine is not None:
            session_id = engine.check_reconnection_token(token)
        else:
            session_id = await self._remote(listing, self.cluster.reconnect_remote(listing, token))
        if session_id is None:
            raise ServerError(ErrorCode.MATCHMAKE_EXPIRED, "reconnection token invalid or expired.")
        return self._seat(listing, session_id, dev=False)

    async def _listing(self, room_id: str) -> RoomListing | None:
        """The listing of a room of this process, or of another one."""
        engine = self.engines.get(room_id)
        if engine is not None:
            return engine.listing if engine.running else None
        if not room_id or len(room_id) > 64:
            return None
        found = await self.driver.query({"roomId": room_id})
        return found[0] if found and found[0].process_id != self.process_id else None

    async def _remote(self, listing: RoomListing, call: Any) -> Any:
        # A process that does not answer is removed, and the request fails.
        try:
            return await call
        except RemoteTimeout:
            await self.cluster.check(listing.process_id)
            raise ServerError(ErrorCode.MATCHMAKE_EXPIRED, f'room "{listing.room_id}": its process does not answer')

    @contextlib.asynccontextmanager
    async def _cluster_lock(self, key: tuple[str, str]) -> AsyncIterator[None]:
        # Find-or-create one at a time across processes too (a key with a short
        # lifetime: a process that dies holding it holds it no longer than that).
        name = f"pyseus:create:{key[0]}:{key[1]}"
        owner = new_id()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _CLUSTER_LOCK_WAIT
        held = False
        while not held:
            held = await self.presence.set_if_absent(name, owner, _CLUSTER_LOCK_TTL)
            if held or loop.time() >= deadline:
                break
            await asyncio.sleep(random.uniform(0.003, 0.012))
        try:
            yield
        finally:
            if held and await self.presence.get(name) == owner:
                await self.presence.delete(name)

    # ---- rooms ------------------------------------------------------------------

    async def _create_somewhere(self, definition: RoomDefinition, options: dict[str, Any]) -> RoomListing:
        """Create a room on the process with the fewest rooms (this one, when alone)."""
        process_id = await self.cluster.least_busy()
        if process_id != self.process_id:
            try:
                return await self.cluster.create_remote(process_id, definition.name, options)
            except RemoteTimeout:
                await self.cluster.remove(process_id)
        return (await self.create_room(definition, options)).listing

    async def _on_process_request(self, method: Any, args: list[Any]) -> Any:
        # requests from other processes to this one
        if method is None:
            name = args[0] if args else None
            definition = self.definitions.get(name) if isinstance(name, str) else None
            if definition is None:
                raise ServerError(ErrorCode.MATCHMAKE_NO_HANDLER, f'provided room name "{name}" not defined')
            options = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
            return (await self.create_room(definition, options)).listing.to_json()
        if method == "healthcheck":
            return True
        raise ServerError(ErrorCode.MATCHMAKE_UNHANDLED, f"unknown request {method!r}")

    def _room_requests(self, engine: RoomEngine) -> Any:
        async def on_request(method: Any, args: list[Any]) -> Any:
            if method == "_reserveSeat" and args and isinstance(args[0], str):
                options = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
                return engine.running and engine.reserve_seat(args[0], options, None)
            if method == "checkReconnectionToken" and args and isinstance(args[0], str):
                return engine.check_reconnection_token(args[0])
            if method == "roomId" and not args:
                return engine.room_id
            raise ServerError(ErrorCode.MATCHMAKE_UNHANDLED, f"unknown request {method!r}")
        return on_request

    async def create_room(self, definition: RoomDefinition, options: dict[str, Any]) -> RoomEngine:
        """Create a room of ``definition`` and start it (raises ServerError)."""
        if self.shutting_down:
            raise ServerError(ErrorCode.MATCHMAKE_UNHANDLED, "the server is shutting down")
        self._check_room_limits(definition)
        name = definition.name
        self._room_counts[name] = self._room_counts.get(name, 0) + 1
        self._creating += 1
        try:
            engine = RoomEngine(definition.room_class(), name, self, self.presence,
                                process_id=self.process_id, public_address=self.public_address,
                                filters=definition.filters_for(options), dev_mode=self.dev_mode,
                                profile=self.profile, limits=self.limits)
            await engine.create({**options, **definition.options})
            if engine.room_id in self.engines:
                engine.abandon()
                raise ServerError(ErrorCode.MATCHMAKE_UNHANDLED, f'room id "{engine.room_id}" is already in use')
        except BaseException:
            self._room_gone(name)
            raise
        finally:
            self._creating -= 1
        self.engines[engine.room_id] = engine
        try:
            await self.driver.create(engine.listing)
            await self.cluster.serve(f"${engine.room_id}", self._room_requests(engine))
        except BaseException:
            await self.cluster.unserve(f"${engine.room_id}")
            del self.engines[engine.room_id]
            self._room_gone(name)
            engine.abandon()
            raise
        self._count_changed()
        engine.start()
        await self._to_lobbies(self._lobby_news(engine.listing, removed=False))      # (before any seat is taken)
        return engine

    def _check_room_limits(self, definition: RoomDefinition) -> None:
        limits = self.limits
        total = len(self.engines) + self._creating
        if total >= limits.max_rooms:
            self._full.trigger("process", "%d rooms in this process (limit max_rooms): refusing to create more",
                               total)
            raise ServerError(ErrorCode.MATCHMAKE_UNHANDLED, "too many rooms on this server")
        self._full.clear("process")
        per_type = definition.room_class.max_rooms or limits.max_rooms_per_type
        count = self._room_counts.get(definition.name, 0)
        if per_type is not None and count >= per_type:
            self._full.trigger(definition.name, '%d rooms of type "%s" (limit max_rooms_per_type): refusing to '
                               "create more", count, definition.name)
            raise ServerError(ErrorCode.MATCHMAKE_UNHANDLED, f'too many rooms of type "{definition.name}"')
        self._full.clear(definition.name)

    def _room_gone(self, name: str) -> None:
        left = self._room_counts[name] - 1
        if left:
            self._room_counts[name] = left
        else:
            del self._room_counts[name]

    async def _candidates(self, definition: RoomDefinition, options: dict[str, Any]) -> list[RoomListing]:
        """The rooms a request may join, in the definition's order."""
        conditions = {"name": definition.name, "locked": False, "private": False,
                      **definition.filters_for(options)}
        out = []
        for listing in await self.driver.query(conditions, definition.sort_order or None):
            engine = self.engines.get(listing.room_id)
            if engine is not None:
                if engine.available:
                    out.append(engine.listing)
            elif listing.process_id != self.process_id and (
                    listing.max_clients is None or listing.clients < listing.max_clients):
                out.append(listing)     # (on another process, which has the last word on its seats)
        return out

    async def _reserve_any(self, candidates: list[RoomListing], seat: _Seat,
                           limit: int | None = None) -> dict[str, Any] | None:
        for listing in candidates[:limit]:
            reservation = await self._try_reserve(listing, seat)
            if reservation is not None:
                return reservation
        return None

    async def _try_reserve(self, listing: RoomListing, seat: _Seat) -> dict[str, Any] | None:
        session_id = new_id()
        engine = self.engines.get(listing.room_id)
        if engine is not None:
            if not engine.reserve_seat(session_id, seat.options, seat.token):
                return None
            listing = engine.listing
        else:
            try:
                if not await self.cluster.reserve_remote(listing, session_id, seat.options):
                    return None
            except RemoteTimeout:
                await self.cluster.check(listing.process_id)
                return None
        return self._seat(listing, session_id, dev=self.dev_mode)

    async def _reserve_or_fail(self, listing: RoomListing, seat: _Seat) -> dict[str, Any]:
        reservation = await self._try_reserve(listing, seat)
        if reservation is None:
            raise ServerError(ErrorCode.MATCHMAKE_UNHANDLED, f"{listing.room_id} is already full.")
        return reservation

    def _seat(self, listing: RoomListing, session_id: str, dev: bool) -> dict[str, Any]:
        seat = SeatReservation.for_room(listing, session_id, dev_mode=dev)
        return seat.to_json(listing, self.profile)

    # ---- RoomRegistry (called by the engines) ---------------------------------------

    async def save_listing(self, listing: RoomListing) -> None:
        if listing.room_id in self.engines:
            self._count_changed()
            news = self._lobby_news(listing, removed=False)     # (of the values saved, not of those after the await)
            await self.driver.save(listing)
            await self._to_lobbies(news)

    async def unregister(self, engine: RoomEngine) -> None:
        if self.engines.get(engine.room_id) is engine:
            del self.engines[engine.room_id]
            self._room_gone(engine.room_name)
            self._count_changed()
            await self.cluster.unserve(f"${engine.room_id}")
            news = self._lobby_news(engine.listing, removed=True)
            await self.driver.remove(engine.room_id)
            await self._to_lobbies(news)

    def _count_changed(self) -> None:
        self.cluster.count(len(self.engines), sum(e.listing.clients for e in self.engines.values()))

    async def _save_all_listings(self) -> None:
        # (the presence came back: what it lost of this process is written again)
        for engine in list(self.engines.values()):
            if engine.running:
                await self.driver.save(engine.listing)

    async def query(self, conditions: dict[str, Any]) -> list[RoomListing]:
        return await self.driver.query(conditions)

    def _lobby_news(self, listing: RoomListing, removed: bool) -> tuple[str, str | None, str] | None:
        # Rooms of types with a realtime listing tell the lobbies (over presence, so
        # that lobbies of every process hear it) what changed, once per change. The
        # news is taken before the store is written: the listing may change during
        # the write, and a lobby told of values not stored yet would read older ones.
        definition = self.definitions.get(listing.name)
        if definition is None or not definition.realtime_listing or listing.unlisted:
            return None
        seen = None if removed else repr(sorted(listing.to_json().items()))
        if self._lobby_seen.get(listing.room_id) == seen:
            return None
        return listing.room_id, seen, lobby_message(listing.room_id, removed or listing.private)

    async def _to_lobbies(self, news: tuple[str, str | None, str] | None) -> None:
        # (once the store holds it: a failed write is not taken for told)
        if news is None:
            return
        room_id, seen, message = news
        if seen is None:
            self._lobby_seen.pop(room_id, None)
        else:
            self._lobby_seen[room_id] = seen
        await self.presence.publish(LOBBY_CHANNEL, message)

    # ---- listing and stopping -------------------------------------------------------

    async def available_rooms(self, name: str | None = None) -> list[dict[str, Any]]:
        """Listings of public, unlocked, listed rooms (of one type, or all)."""
        conditions: dict[str, Any] = {"locked": False, "private": False, "unlisted": False}
        if name is not None:
            conditions["name"] = name
        return [listing.to_json() for listing in await self.driver.query(conditions)]

    async def shutdown(self) -> None:
        """Stop matchmaking and let every room disconnect its clients; returns when all are gone."""
        self.shutting_down = True
        engines = self._stopping = list(self.engines.values())
        for engine in engines:
            engine.room.lock()
        await asyncio.gather(*(engine.shutdown() for engine in engines))

    async def leave(self) -> None:
        """Leave the processes sharing the presence, taking this one's listings along."""
        await self.cluster.stop()

    def unfinished(self) -> list[str]:
        """What the rooms still run (for the log of a shutdown that timed out)."""
        return [line for engine in self._stopping for line in engine.unfinished()]

    def abandon_rooms(self) -> None:
        """A shutdown gave up waiting for the rooms: cancel what they still run."""
        for engine in self._stopping:
            engine.abandon_running()
