"""The JSON of HTTP matchmaking: room listings, seat reservations and errors.

A ``RoomListing`` is the public description of a room: what the room list
shows and what a seat reservation carries. A ``SeatReservation`` is the answer
to a successful matchmaking request: the room to connect to and the session id
to claim there. Failures answer ``{"code": <ErrorCode>, "error": <text>}``.
"""
from __future__ import annotations

import datetime
import json
import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from .errors import ProtocolError

__all__ = ["RoomListing", "SeatReservation", "error_body", "parse_options", "new_id", "is_id"]

# Room ids, session ids, process ids and reconnection tokens: clients put them in
# URLs unescaped and split "<roomId>:<token>" on the colon.
_ID_ALPHABET = string.ascii_letters + string.digits + "_-"
_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def new_id(length: int = 9) -> str:
    """A random id from the URL-safe alphabet clients expect."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def is_id(value: object) -> bool:
    """Whether ``value`` can serve as an id on the wire (1-128 URL-safe characters)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


# the fields of a listing that are not filter values
_LISTING_FIELDS = frozenset({"clients", "locked", "private", "maxClients", "unlisted", "createdAt", "name",
                             "processId", "publicAddress", "metadata", "roomId"})


def _parse_date(text: str) -> datetime.datetime:
    when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=datetime.timezone.utc)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


@dataclass
class RoomListing:
    """One room as matchmaking lists it."""
    room_id: str
    name: str
    process_id: str
    clients: int = 0
    max_clients: int | None = None
    locked: bool = False
    private: bool = False
    unlisted: bool = False
    created_at: datetime.datetime = field(default_factory=_now)
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
        for key, value in self.filters.items():
            out.setdefault(key, value)
        if self.public_address:
            out["publicAddress"] = self.public_address
        if self.metadata is not None:
            out["metadata"] = self.metadata
        out["roomId"] = self.room_id
        return out

    @classmethod
    def from_json(cls, data: Any) -> RoomListing:
        """Read a listing that ``to_json`` (or a Node Colyseus process) wrote; the
        fields it does not know are the ``filter_by`` values. Raises ProtocolError."""
        try:
            created = data.get("createdAt")
            max_clients = data.get("maxClients")
            return cls(room_id=str(data["roomId"]), name=str(data["name"]), process_id=str(data["processId"]),
                       clients=int(data.get("clients") or 0),
                       max_clients=int(max_clients) if isinstance(max_clients, (int, float)) else None,
                       locked=data.get("locked") is True, private=data.get("private") is True,
                       unlisted=data.get("unlisted") is True,
                       created_at=_parse_date(created) if isinstance(created, str) else _now(),
                       metadata=data.get("metadata") if isinstance(data.get("metadata"), dict) else None,
                       public_address=str(data["publicAddress"]) if data.get("publicAddress") else None,
                       filters={k: v for k, v in data.items() if k not in _LISTING_FIELDS})
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
            raise ProtocolError(f"malformed room listing: {e!r}") from None

    def to_lobby(self) -> dict[str, Any]:
        """The listing as a LobbyRoom sends it in MessagePack: ``createdAt`` a date
        (a timestamp extension) and an unlimited ``maxClients`` +Infinity, as Node's
        listing objects carry them."""
        out = self.to_json()
        out["createdAt"] = self.created_at
        if self.max_clients is None:
            out["maxClients"] = float("inf")
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


@dataclass(frozen=True)
class SeatReservation:
    """A seat in a room: where to open the WebSocket, and the session id to claim."""
    name: str
    room_id: str
    process_id: str
    session_id: str
    public_address: str | None = None
    dev_mode: bool = False
    reconnection_token: str | None = None     # the client adds it when it reconnects

    @classmethod
    def for_room(cls, listing: RoomListing, session_id: str, *, dev_mode: bool = False) -> SeatReservation:
        return cls(listing.name, listing.room_id, listing.process_id, session_id, listing.public_address, dev_mode)

    def to_json(self, listing: RoomListing, profile: str = "0.16") -> dict[str, Any]:
        """The answer as ``profile`` writes it: 0.16 puts the whole listing under
        ``room``; 0.17 and 0.18 write the seat flat; "auto" writes both."""
        out: dict[str, Any] = {}
        if profile != "0.16":
            out = {"name": self.name, "sessionId": self.session_id, "roomId": self.room_id,
                   "processId": self.process_id}
            if self.public_address:
                out["publicAddress"] = self.public_address
        if profile in ("0.16", "auto"):
            out["room"] = listing.to_json()
            out["sessionId"] = self.session_id
        if self.dev_mode:
            out["devMode"] = True
        return out

    @classmethod
    def from_json(cls, data: Any) -> SeatReservation:
        """Read a server's answer, with the room under ``room`` (0.16) or flat (0.17+)."""
        try:
            room = data["room"] if isinstance(data.get("room"), dict) else data
            public_address = room.get("publicAddress")
            return cls(str(room["name"]), str(room["roomId"]), str(room["processId"]), str(data["sessionId"]),
                       str(public_address) if public_address else None, data.get("devMode") is True,
                       data.get("reconnectionToken"))
        except (KeyError, TypeError, AttributeError) as e:
            raise ProtocolError(f"malformed seat reservation: {e!r}") from None


def error_body(code: int, message: str) -> dict[str, Any]:
    """The body of a matchmaking failure."""
    return {"code": int(code), "error": message}


def parse_options(body: bytes, max_depth: int = 32) -> dict[str, Any]:
    """The options of a matchmaking request body (JSON; empty means none).

    Raises ``ProtocolError`` for a body that is not JSON or nests deeper than
    ``max_depth``; a body that is not an object carries no options.
    """
    if not body.strip():
        return {}
    try:
        options = json.loads(body)
    except RecursionError:
        raise ProtocolError(f"invalid JSON body: nested deeper than {max_depth} levels") from None
    except ValueError as e:      # (UnicodeDecodeError included)
        raise ProtocolError(f"invalid JSON body: {e}") from None
    # depth first, without recursion (the parser's own limit is far above ours)
    stack: list[tuple[Any, int]] = [(options, 1)] if isinstance(options, (dict, list)) else []
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            raise ProtocolError(f"invalid JSON body: nested deeper than {max_depth} levels")
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return options if isinstance(options, dict) else {}     # (a list or a scalar carries no options)
