"""pyseus.protocol: the Colyseus room protocol, sans I/O.

Shared by ``pyseus.server`` and ``pyseus.client``, which never import each
other: frame codes and close/error codes (``codes``), frame builders and
parsers (``frames``), MessagePack as Colyseus clients write it
(``messagepack``), the JSON of HTTP matchmaking (``matchmaking``), what
differs between the client generations 0.16, 0.17 and 0.18 (``generations``),
and the WebSocket framing underneath (``websocket``).
"""
from .codes import MAX_CLOSE_REASON, CloseCode, ErrorCode, Protocol, ResponseStatus, close_reason
from .errors import MessagePackError, ProtocolError
from .frames import (
    ClientFrame, ErrorMessage, JoinAck, JoinRoom, LeaveRoom, MessageType, Ping, RoomData, RoomDataBytes, RoomPatch,
    RoomRequest, RoomResponse, RoomState, ServerFrame, encode_type, error, join_ack, join_room, join_room_polyglot,
    join_room_v18, leave_room, parse_client_frame, parse_server_frame, ping, room_data, room_data_bytes, room_patch,
    room_request, room_response, room_state,
)
from .generations import PROFILES, Generation, Profile
from .matchmaking import RoomListing, SeatReservation, error_body, is_id, new_id, parse_options
from .messagepack import pack, unpack

__all__ = [
    "Protocol", "CloseCode", "ErrorCode", "ResponseStatus", "close_reason", "MAX_CLOSE_REASON",
    "ProtocolError", "MessagePackError", "MessageType",
    "JoinRoom", "JoinAck", "ErrorMessage", "LeaveRoom", "RoomData", "RoomDataBytes", "RoomState", "RoomPatch",
    "Ping", "RoomRequest", "RoomResponse", "ClientFrame", "ServerFrame",
    "join_room", "join_room_v18", "join_room_polyglot", "join_ack", "error", "leave_room", "room_data",
    "room_data_bytes", "room_state", "room_patch", "ping", "room_request", "room_response",
    "encode_type", "parse_client_frame", "parse_server_frame", "pack", "unpack",
    "Profile", "PROFILES", "Generation",
    "RoomListing", "SeatReservation", "error_body", "parse_options", "new_id", "is_id",
]
