"""pyseus.server: a Colyseus-compatible room server (matchmaking over HTTP, rooms over WebSocket)."""
from pyseus.protocol import CloseCode, ErrorCode, Protocol, RoomListing

from .client import Client, ClientList, ClientState
from .clock import Clock, Timer
from .deferred import Deferred
from .driver import Driver, LocalDriver
from .cors import CorsPolicy
from .errors import ReconnectionRejected, RequestRejected, ServerError
from .limits import Limits
from .lobby import LobbyRoom
from .matchmaker import RoomDefinition
from .presence import LocalPresence, Presence
from .relay import RelayRoom
from .room import Room
from .server import Server
from .transport import Connection, Request, Transport
from .transport_aiohttp import WebSocketTransport

__all__ = [
    "Server", "Limits", "CorsPolicy", "Room", "LobbyRoom", "RelayRoom", "Client", "ClientState", "ClientList", "Request", "RoomDefinition",
    "ServerError", "RequestRejected", "ReconnectionRejected", "Deferred", "Clock", "Timer",
    "CloseCode", "ErrorCode", "Protocol",
    "Presence", "LocalPresence", "Driver", "LocalDriver", "RoomListing",
    "Transport", "WebSocketTransport", "Connection",
]
