"""A Colyseus-compatible room server: matchmaking over HTTP, rooms over WebSocket."""
from .client import Client, ClientState, Connection
from .clock import Clock, Timer
from .deferred import Deferred
from .driver import Driver, LocalDriver, RoomListing
from .errors import ReconnectionRejected, ServerError
from .matchmaker import RoomDefinition
from .presence import LocalPresence, Presence
from .protocol import CloseCode, ErrorCode, Protocol
from .room import ClientList, Request, Room
from .server import Server, event_loop_factory
from .transport import Transport, WebSocketTransport

__all__ = [
    "Server", "event_loop_factory", "Room", "Client", "ClientState", "ClientList", "Request", "RoomDefinition",
    "ServerError", "ReconnectionRejected", "Deferred", "Clock", "Timer",
    "CloseCode", "ErrorCode", "Protocol",
    "Presence", "LocalPresence", "Driver", "LocalDriver", "RoomListing",
    "Transport", "WebSocketTransport", "Connection",
]
