"""Where room listings live: what matchmaking searches.

A ``Driver`` stores ``RoomListing``s (``pyseus.protocol``: the public
description of a room); ``LocalDriver`` keeps them in memory, in creation order.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from pyseus.protocol import RoomListing

__all__ = ["Driver", "LocalDriver", "matches", "sort_listings"]


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
