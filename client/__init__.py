"""A Python client for Colyseus-compatible room servers (ours, and Node's 0.16)."""
from .client import Client
from .errors import ClientError, MatchMakeError, RoomLeftError
from .room import Room, RoomStats

__all__ = ["Client", "Room", "RoomStats", "MatchMakeError", "ClientError", "RoomLeftError"]
