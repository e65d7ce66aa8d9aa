"""Matchmaking: room definitions, creating rooms, and reserving seats.

The HTTP routes (``POST /matchmake/<method>/<name or id>``) come here. A seat
reservation answers with the room's listing and a fresh session id; the client
then opens a WebSocket to claim it within the room's seat reservation time.
Every failure is a ``ServerError`` with the code and message of the reference.
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from typing import Any

from .driver import Driver, RoomListing
from .errors import ServerError
from .presence import Presence
from .protocol import ErrorCode
from .room import Room, _call, generate_id

__all__ = ["Matchmaker", "RoomDefinition", "METHODS"]

log = logging.getLogger("server.matchmaker")

METHODS = ("joinOrCreate", "create", "join", "joinById", "reconnect")

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

    def filters_for(self, options: dict[str, Any]) -> dict[str, Any]:
        return {key: options[key] for key in self.filter_keys if key in options}


class Matchmaker:
    """Rooms of this process and the seat reservations that lead to them."""

    def __init__(self, presence: Presence, driver: Driver, process_id: str, *,
                 public_address: str | None = None, dev_mode: bool = False) -> None:
        self.presence = presence
        self.driver = driver
        self.process_id = process_id
        self.public_address = public_address
        self.dev_mode = dev_mode
        self.definitions: dict[str, RoomDefinition] = {}
        self.rooms: dict[str, Room[Any]] = {}
        self.shutting_down = False
        self._create_locks: dict[tuple[str, str], asyncio.Lock] = {}

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
        if not isinstance(options, dict):
            options = {}
        if method == "reconnect":
            return await self.reconnect(target, options)
        if method == "joinById":
            return await self.join_by_id(target, options, token)
        if method not in METHODS:
            raise ServerError(ErrorCode.MATCHMAKE_NO_HANDLER, f'invalid method "{method}"')
        definition = self.definitions.get(target)
        if definition is None:
            raise ServerError(ErrorCode.MATCHMAKE_NO_HANDLER, f'provided room name "{target}" not defined')
        if method == "create":
            room = await self.create_room(definition, options)
            return self._reserve_or_fail(room, options, token)
        if method == "join":
            found = await self._find(definition, options)
            if found is None:
                raise ServerError(ErrorCode.MATCHMAKE_INVALID_CRITERIA, "no rooms found with provided criteria")
            return self._reserve_or_fail(found, options, token)
        return await self.join_or_create(definition, options, token)

    async def join_or_create(self, definition: RoomDefinition, options: dict[str, Any],
                             token: str | None) -> dict[str, Any]:
        # One find-or-create at a time per (name, filters): concurrent requests
        # then fill the room the first one created instead of creating more.
        key = (definition.name, repr(sorted(definition.filters_for(options).items())))
        lock = self._create_locks.setdefault(key, asyncio.Lock())
        for attempt in range(5):
            async with lock:
                room = await self._find(definition, options)
                if room is None:
                    room = await self.create_room(definition, options)
                reservation = self._try_reserve(room, options, token)
            if reservation is not None:
                return reservation
            await asyncio.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
        raise ServerError(ErrorCode.MATCHMAKE_UNHANDLED, "could not reserve a seat, every room is full")

    async def join_by_id(self, room_id: str, options: dict[str, Any], token: str | None) -> dict[str, Any]:
        room = self.rooms.get(room_id)
        if room is None or room._disposing:
            raise ServerError(ErrorCode.MATCHMAKE_INVALID_ROOM_ID, f'room "{room_id}" not found')
        if room.locked:
            raise ServerError(ErrorCode.MATCHMAKE_INVALID_ROOM_ID, f'room "{room_id}" is locked')
        return self._reserve_or_fail(room, options, token)

    async def reconnect(self, room_id: str, options: dict[str, Any]) -> dict[str, Any]:
        room = self.rooms.get(room_id)
        if room is None or room._disposing:
            raise ServerError(ErrorCode.MATCHMAKE_INVALID_ROOM_ID, f'room "{room_id}" has been disposed.')
        token = options.get("reconnectionToken")
        if not token or not isinstance(token, str):
            raise ServerError(ErrorCode.MATCHMAKE_UNHANDLED, "'reconnectionToken' must be provided for reconnection.")
        session_id = room._check_reconnection_token(token)
        if session_id is None:
            raise ServerError(ErrorCode.MATCHMAKE_EXPIRED, "reconnection token invalid or expired.")
        return self._seat(room, session_id, dev=False)

    # ---- rooms ------------------------------------------------------------------

    async def create_room(self, definition: RoomDefinition, options: dict[str, Any]) -> Room[Any]:
        if self.shutting_down:
            raise ServerError(ErrorCode.MATCHMAKE_UNHANDLED, "the server is shutting down")
        room = definition.room_class()
        room._attach(self, definition.name, self.presence, self.dev_mode)
        room._listing = RoomListing(room_id=room.room_id, name=definition.name, process_id=self.process_id,
                                    public_address=self.public_address,
                                    filters=definition.filters_for(options))
        merged = {**options, **definition.options}
        room._creating = True
        try:
            await _call(room.on_create, merged)
        except ServerError:
            room._abandon()
            raise
        except Exception as e:
            room._report(e, "on_create")
            room._abandon()
            raise ServerError(ErrorCode.MATCHMAKE_UNHANDLED, str(e)) from None
        finally:
            room._creating = False
        if room.room_id in self.rooms:
            room._abandon()
            raise ServerError(ErrorCode.MATCHMAKE_UNHANDLED, f'room id "{room.room_id}" is already in use')
        room._listing.room_id = room.room_id
        self.rooms[room.room_id] = room
        await self.driver.create(room._listing)
        room._start()
        room._capacity_changed()
        log.debug("room %s (%s) created", room.room_id, definition.name)
        return room

    async def _find(self, definition: RoomDefinition, options: dict[str, Any]) -> Room[Any] | None:
        conditions = {"name": definition.name, "locked": False, "private": False,
                      **definition.filters_for(options)}
        for listing in await self.driver.query(conditions, definition.sort_order or None):
            room = self.rooms.get(listing.room_id)
            if room is not None and not room._disposing and not room.locked and not room.private:
                return room
        return None

    def _try_reserve(self, room: Room[Any], options: dict[str, Any], token: str | None) -> dict[str, Any] | None:
        session_id = generate_id()
        if not room._reserve_seat(session_id, options, token):
            return None
        return self._seat(room, session_id, dev=self.dev_mode)

    def _reserve_or_fail(self, room: Room[Any], options: dict[str, Any], token: str | None) -> dict[str, Any]:
        reservation = self._try_reserve(room, options, token)
        if reservation is None:
            raise ServerError(ErrorCode.MATCHMAKE_UNHANDLED, f"{room.room_id} is already full.")
        return reservation

    def _seat(self, room: Room[Any], session_id: str, dev: bool) -> dict[str, Any]:
        assert room._listing is not None
        out: dict[str, Any] = {"room": room._listing.to_json(), "sessionId": session_id}
        if dev:
            out["devMode"] = True
        return out

    async def save_listing(self, listing: RoomListing) -> None:
        if listing.room_id in self.rooms:
            await self.driver.save(listing)

    async def unregister(self, room: Room[Any]) -> None:
        if self.rooms.get(room.room_id) is room:
            del self.rooms[room.room_id]
            await self.driver.remove(room.room_id)

    async def available_rooms(self, name: str | None = None) -> list[dict[str, Any]]:
        """Listings of public, unlocked, listed rooms (of one type, or all)."""
        conditions: dict[str, Any] = {"locked": False, "private": False, "unlisted": False}
        if name is not None:
            conditions["name"] = name
        return [listing.to_json() for listing in await self.driver.query(conditions)]

    async def shutdown(self) -> None:
        """Stop matchmaking and let every room disconnect its clients; returns when all are gone."""
        self.shutting_down = True
        rooms = list(self.rooms.values())
        for room in rooms:
            room.lock()

        async def close(room: Room[Any]) -> None:
            try:
                await room.on_before_shutdown()
            except Exception as e:
                room._report(e, "on_before_shutdown")
            if room._disposed is not None and not room._disposed.is_set():
                await room.disconnect()

        await asyncio.gather(*(close(room) for room in rooms))
        await self.driver.cleanup(self.process_id)
