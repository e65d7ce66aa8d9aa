"""Lobbies: a room list that updates live.

Room types defined with ``.enable_realtime_listing()`` announce each change of
their rooms on the presence channel ``$lobby`` as ``"<roomId>,<0|1>"`` (1: the
room is gone from lobbies), as Colyseus does, so that lobbies of every process,
Python or Node, hear of them. A ``LobbyRoom`` sends its clients:

* on join, ``"rooms"``: the listings of the public, listed rooms that match the
  client's filter (join option ``filter: {name?, metadata?}``);
* ``"+"`` ``[roomId, listing]`` when a room appears or changes and matches,
  ``"-"`` ``roomId`` when it goes away or stops matching;
* after a ``"filter"`` message (a new filter), ``"rooms"`` again.

A filter matches a room whose name equals ``filter.name`` and whose metadata has
every ``filter.metadata`` value; a room without metadata matches no metadata
filter.
"""
from __future__ import annotations

from typing import Any

from pyseus.protocol import RoomListing

from .client import Client
from .room import Room

__all__ = ["LobbyRoom", "LOBBY_CHANNEL", "lobby_message"]

LOBBY_CHANNEL = "$lobby"


def lobby_message(room_id: str, removed: bool) -> str:
    return f"{room_id},{1 if removed else 0}"


def _matches(listing: dict[str, Any], flt: Any) -> bool:
    if not isinstance(flt, dict):
        return True
    if "name" in flt and flt.get("name") != listing.get("name"):
        return False
    wanted = flt.get("metadata")
    if isinstance(wanted, dict) and wanted:
        metadata = listing.get("metadata")
        if not isinstance(metadata, dict):
            return False
        return all(k in metadata and metadata[k] == v for k, v in wanted.items())
    return True


class LobbyRoom(Room[Any]):
    """The live room list (see the module documentation)."""

    def __init__(self) -> None:
        super().__init__()
        self.rooms: dict[str, dict[str, Any]] = {}       # roomId -> listing (as sent), in arrival order
        self._filters: dict[str, Any] = {}               # sessionId -> filter

    async def on_create(self, options: dict[str, Any]) -> None:
        self.set_unlisted()
        await self.presence.subscribe(LOBBY_CHANNEL, self._on_update)
        listings = await self._running().listings({"private": False, "unlisted": False})
        self.rooms = {item.room_id: item.to_lobby() for item in listings}
        self.on_message("filter", self._on_filter)

    def on_join(self, client: Client, options: dict[str, Any], auth: Any = None) -> None:
        self._filters[client.session_id] = (options or {}).get("filter")
        client.send("rooms", self._visible(client))

    def on_leave(self, client: Client, consented: bool) -> None:
        self._filters.pop(client.session_id, None)

    async def on_dispose(self) -> None:
        await self.presence.unsubscribe(LOBBY_CHANNEL, self._on_update)

    def _visible(self, client: Client) -> list[dict[str, Any]]:
        flt = self._filters.get(client.session_id)
        return [item for item in self.rooms.values() if _matches(item, flt)]

    def _on_filter(self, client: Client, flt: Any) -> None:
        self._filters[client.session_id] = flt
        client.send("rooms", self._visible(client))

    async def _on_update(self, message: Any) -> None:
        if not isinstance(message, str) or "," not in message:
            return
        room_id, _, removed = message.partition(",")
        found: list[RoomListing] = [] if removed == "1" else await self._running().listings({"roomId": room_id})
        listing = found[0].to_lobby() if found and not found[0].private and not found[0].unlisted else None
        before = self.rooms.get(room_id)
        if listing is None:
            self.rooms.pop(room_id, None)
        else:
            self.rooms[room_id] = listing
        for client in self.clients:
            if client.session_id not in self._filters:
                continue                    # (still joining: "rooms" is on its way)
            flt = self._filters[client.session_id]
            had = before is not None and _matches(before, flt)
            has = listing is not None and _matches(listing, flt)
            if has:
                client.send("+", [room_id, listing])
            elif had:
                client.send("-", room_id)
