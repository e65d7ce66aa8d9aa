"""pyseus.client: a Python client for Colyseus-compatible room servers (ours, and Node's 0.16, 0.17, 0.18)."""
from .client import Client
from .errors import ClientError, MatchMakeError, RequestError, RoomLeftError
from .room import Reconnection, Room, RoomStats

__all__ = ["Client", "Room", "RoomStats", "Reconnection", "MatchMakeError", "ClientError", "RoomLeftError",
           "RequestError"]
