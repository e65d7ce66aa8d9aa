"""Room listings: what matchmaking searches.

A ``RoomListing`` is the public description of a room (the ``room`` object of a
seat reservation). A ``Driver`` stores listings; ``LocalDriver`` keeps them in
memory, in creation order.
"""
from __future__ import annotations

import datetime
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RoomListing", "Driver", "LocalDriver", "matches", "sort_listings"]


@dataclass
class RoomListing:
    room_id: str
    name: str
    process_id: str
    clients: int = 0
    max_clients: int | None = None
    locked: bool = False
    private: bool = False
    unlisted: bool = False
    created_at: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.timezone.utc))
    metadata: dict[str, Any] | None = None
    public_address: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)   # the filter_by values it was created with

    def to_json(self) -> dict[str, Any]:
        """The listing as the reference serializes it (camelCase, maxClients null when unlimited)."""
        out: dict[str, Any] = {
            "clients": self.clients,
            "locked": self.locked,
            "private": self.private,
            "maxClients": self.max_clients,
            "unlisted": self.unlisted,
            "createdAt": self.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "name": self.name,
            "processId": self.process_id,
        }
        if self.public_address:
            out["publicAddress"] = self.public_address
        if self.metadata is not None:
            out["metadata"] = self.metadata
        out.update(self.filters)
        out["roomId"] = self.room_id
        return out

    def field(self, name: str) -> Any:
        """A listing field by its JSON name (for filters and sorting)."""
        json_names = {"clients": self.clients, "locked": self.locked, "private": self.private,
                      "maxClients": self.max_clients, "unlisted": self.unlisted, "name": self.name,
                      "roomId": self.room_id, "processId": self.process_id, "createdAt": self.created_at}
        if name in json_names:
            return json_names[name]
        if name in self.filters:
            return self.filters[name]
        return (self.metadata or {}).get(name)


def matches(listing: RoomListing, conditions: dict[str, Any]) -> bool:
    return all(listing.field(k) == v for k, v in conditions.items())


def sort_listings(listings: list[RoomListing], order: dict[str, int]) -> list[RoomListing]:
    """Sort by ``{field: 1 | -1}`` (the first field first); missing values last."""
    out = list(listings)
    for name, direction in reversed(list(order.items())):
        present = [item for item in out if item.field(name) is not None]
        missing = [item for item in out if item.field(name) is None]
        present.sort(key=lambda item: item.field(name), reverse=direction < 0)
        out = present + missing
    return out


class Driver(ABC):
    """Where listings live (in memory, or shared between processes)."""

    @abstractmethod
    async def create(self, listing: RoomListing) -> None: ...

    @abstractmethod
    async def save(self, listing: RoomListing) -> None:
        """Store the listing's current values."""

    @abstractmethod
    async def remove(self, room_id: str) -> None: ...

    @abstractmethod
    async def query(self, conditions: dict[str, Any], order: dict[str, int] | None = None) -> list[RoomListing]:
        """Listings whose fields equal ``conditions``, sorted by ``order``."""

    async def cleanup(self, process_id: str) -> None:
        """Forget the listings of a process that went away."""

    async def shutdown(self) -> None:
        """Release connections."""


class LocalDriver(Driver):
    """Listings of this process only."""

    def __init__(self) -> None:
        self._listings: dict[str, RoomListing] = {}

    async def create(self, listing: RoomListing) -> None:
        self._listings[listing.room_id] = listing

    async def save(self, listing: RoomListing) -> None:
        if listing.room_id in self._listings:
            self._listings[listing.room_id] = listing

    async def remove(self, room_id: str) -> None:
        self._listings.pop(room_id, None)

    async def query(self, conditions: dict[str, Any], order: dict[str, int] | None = None) -> list[RoomListing]:
        found = [item for item in self._listings.values() if matches(item, conditions)]
        return sort_listings(found, order) if order else found

    async def cleanup(self, process_id: str) -> None:
        for room_id in [r for r, item in self._listings.items() if item.process_id == process_id]:
            del self._listings[room_id]
