"""pyseus.protocol: the Colyseus room protocol, sans I/O.

Shared by ``pyseus.server`` and ``pyseus.client``, which never import each
other: frame codes and close/error codes (``codes``), frame builders and
parsers (``frames``), MessagePack as Colyseus clients write it
(``messagepack``), and the JSON of HTTP matchmaking (``matchmaking``).
"""
from .codes import CloseCode, ErrorCode, Protocol
from .errors import MessagePackError, ProtocolError
from .frames import (
    ClientFrame, ErrorMessage, JoinAck, JoinRoom, LeaveRoom, MessageType, RoomData, RoomDataBytes, RoomPatch,
    RoomState, ServerFrame, encode_type, error, join_ack, join_room, leave_room, parse_client_frame,
    parse_server_frame, room_data, room_data_bytes, room_patch, room_state,
)
from .matchmaking import RoomListing, SeatReservation, error_body, is_id, new_id
from .messagepack import pack, unpack

__all__ = [
    "Protocol", "CloseCode", "ErrorCode", "ProtocolError", "MessagePackError", "MessageType",
    "JoinRoom", "JoinAck", "ErrorMessage", "LeaveRoom", "RoomData", "RoomDataBytes", "RoomState", "RoomPatch",
    "ClientFrame", "ServerFrame",
    "join_room", "join_ack", "error", "leave_room", "room_data", "room_data_bytes", "room_state", "room_patch",
    "encode_type", "parse_client_frame", "parse_server_frame", "pack", "unpack",
    "RoomListing", "SeatReservation", "error_body", "new_id", "is_id",
]
