"""The Colyseus 0.16 room protocol, sans I/O: bytes in, messages out, and back.

Shared by the server and the Python client so that framing exists once. Every
WebSocket frame is binary and starts with a protocol code. Message types and
ERROR fields use the schema package's own small codec (msgpack-like prefixes,
little-endian values); message payloads are MessagePack.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Union

from schema._encoder import _encode_value
from schema._reader import Reader
from schema.errors import DecodeError

from . import _msgpack

__all__ = [
    "Protocol", "CloseCode", "ErrorCode", "ProtocolError", "MessageType",
    "JoinRoom", "JoinAck", "ErrorMessage", "LeaveRoom", "RoomData", "RoomDataBytes", "RoomState", "RoomPatch",
    "join_room", "join_ack", "error", "leave_room", "room_data", "room_data_bytes", "room_state", "room_patch",
    "parse_client_frame", "parse_server_frame", "ServerFrame", "encode_type", "pack", "unpack",
]

MessageType = Union[str, int]


class Protocol(IntEnum):
    """Protocol codes: the first byte of every frame."""
    HANDSHAKE = 9
    JOIN_ROOM = 10
    ERROR = 11
    LEAVE_ROOM = 12
    ROOM_DATA = 13
    ROOM_STATE = 14
    ROOM_STATE_PATCH = 15
    ROOM_DATA_SCHEMA = 16
    ROOM_DATA_BYTES = 17


class CloseCode(IntEnum):
    """WebSocket close codes of a 0.16 server."""
    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    NO_STATUS = 1005
    ABNORMAL_CLOSURE = 1006
    MESSAGE_TOO_BIG = 1009
    CONSENTED = 4000
    WITH_ERROR = 4002
    DEVMODE_RESTART = 4010
    SERVER_DISCONNECT = 4201
    TOO_MANY_CLIENTS = 4202


class ErrorCode(IntEnum):
    """Error codes of ERROR frames and of matchmaking responses."""
    MATCHMAKE_NO_HANDLER = 4210
    MATCHMAKE_INVALID_CRITERIA = 4211
    MATCHMAKE_INVALID_ROOM_ID = 4212
    MATCHMAKE_UNHANDLED = 4213
    MATCHMAKE_EXPIRED = 4214
    AUTH_FAILED = 4215
    APPLICATION_ERROR = 4216
    INVALID_PAYLOAD = 4217


class ProtocolError(ValueError):
    """A frame that does not follow the protocol."""


pack = _msgpack.pack
unpack = _msgpack.unpack


# ---------------------------------------------------------------- messages

@dataclass(frozen=True)
class JoinRoom:
    """Server -> client: the seat is taken (reconnection token, serializer, handshake)."""
    reconnection_token: str
    serializer: str
    handshake: bytes


@dataclass(frozen=True)
class JoinAck:
    """Client -> server: the client got JOIN_ROOM and is ready for the state."""


@dataclass(frozen=True)
class ErrorMessage:
    code: int
    message: str


@dataclass(frozen=True)
class LeaveRoom:
    """Client -> server: a consented leave."""


@dataclass(frozen=True)
class RoomData:
    """A message; ``payload`` is the MessagePack bytes (empty when there is none)."""
    type: MessageType
    payload: bytes

    @property
    def has_message(self) -> bool:
        return bool(self.payload)

    def message(self) -> Any:
        """The decoded payload (None when there is none); raises ProtocolError."""
        if not self.payload:
            return None
        try:
            return unpack(self.payload)
        except _msgpack.MessagePackError as e:
            raise ProtocolError(f"undecodable payload of message {self.type!r}: {e}") from None


@dataclass(frozen=True)
class RoomDataBytes:
    type: MessageType
    data: bytes


@dataclass(frozen=True)
class RoomState:
    """Server -> client: the full state."""
    data: bytes


@dataclass(frozen=True)
class RoomPatch:
    """Server -> client: a patch."""
    data: bytes


# ---------------------------------------------------------------- building

def encode_type(type: MessageType) -> bytes:
    """A message type in the small codec (string, or number)."""
    if isinstance(type, str):
        if not type:
            raise ValueError("the empty string cannot be a message type (clients read it as a number)")
        return _encode_value("string", type)
    if isinstance(type, bool) or not isinstance(type, int):
        raise TypeError(f"a message type is a str or an int, got {type.__class__.__name__}")
    return _encode_value("number", type)


def join_room(reconnection_token: str, serializer: str, handshake: bytes = b"") -> bytes:
    token = reconnection_token.encode()
    ser = serializer.encode()
    if len(token) > 255 or len(ser) > 255:
        raise ValueError("the token and the serializer id must be shorter than 256 bytes")
    return bytes([Protocol.JOIN_ROOM, len(token)]) + token + bytes([len(ser)]) + ser + handshake


def join_ack() -> bytes:
    return bytes([Protocol.JOIN_ROOM])


def leave_room() -> bytes:
    return bytes([Protocol.LEAVE_ROOM])


def error(code: int, message: str = "") -> bytes:
    return bytes([Protocol.ERROR]) + _encode_value("number", int(code)) + _encode_value("string", message)


def room_data(type: MessageType, message: Any = None) -> bytes:
    """ROOM_DATA; no payload when ``message`` is None."""
    frame = bytes([Protocol.ROOM_DATA]) + encode_type(type)
    return frame if message is None else frame + pack(message)


def room_data_bytes(type: MessageType, data: bytes) -> bytes:
    return bytes([Protocol.ROOM_DATA_BYTES]) + encode_type(type) + bytes(data)


def room_state(full: bytes) -> bytes:
    return bytes([Protocol.ROOM_STATE]) + full


def room_patch(patch: bytes) -> bytes:
    return bytes([Protocol.ROOM_STATE_PATCH]) + patch


# ---------------------------------------------------------------- parsing

def _read_type(r: Reader) -> MessageType:
    # A string when the prefix is a1..bf or d9/da/db (not a0: "" is not a type).
    p = r.peek()
    try:
        if 0xA1 <= p <= 0xBF or p in (0xD9, 0xDA, 0xDB):
            return r.string()
        value = r.number()
    except DecodeError as e:
        raise ProtocolError(f"invalid message type: {e}") from None
    if isinstance(value, float):
        if not value.is_integer():
            raise ProtocolError(f"invalid message type {value!r}")
        value = int(value)
    return value


def parse_client_frame(data: bytes) -> JoinAck | LeaveRoom | RoomData | RoomDataBytes | None:
    """A frame from a client; None for codes the server ignores (as the reference does)."""
    if not data:
        raise ProtocolError("empty frame")
    code = data[0]
    if code == Protocol.JOIN_ROOM:
        return JoinAck()
    if code == Protocol.LEAVE_ROOM:
        return LeaveRoom()
    if code == Protocol.ROOM_DATA or code == Protocol.ROOM_DATA_BYTES:
        r = Reader(bytes(data), 1)
        type = _read_type(r)
        rest = bytes(data[r.pos:])
        return RoomData(type, rest) if code == Protocol.ROOM_DATA else RoomDataBytes(type, rest)
    return None


ServerFrame = Union[JoinRoom, ErrorMessage, RoomData, RoomDataBytes, RoomState, RoomPatch]


def parse_server_frame(data: bytes) -> ServerFrame | None:
    """A frame from a server; None for codes a client ignores."""
    if not data:
        raise ProtocolError("empty frame")
    data = bytes(data)
    code = data[0]
    try:
        if code == Protocol.JOIN_ROOM:
            n = data[1]
            token = data[2:2 + n].decode()
            m = data[2 + n]
            serializer = data[3 + n:3 + n + m].decode()
            if len(data) < 3 + n + m:
                raise ProtocolError("truncated JOIN_ROOM")
            return JoinRoom(token, serializer, data[3 + n + m:])
        if code == Protocol.ERROR:
            r = Reader(data, 1)
            error_code = r.number() if r.pos < r.end else 0
            message = r.string() if r.pos < r.end else ""
            return ErrorMessage(int(error_code), message)
        if code == Protocol.ROOM_STATE:
            return RoomState(data[1:])
        if code == Protocol.ROOM_STATE_PATCH:
            return RoomPatch(data[1:])
        if code == Protocol.ROOM_DATA or code == Protocol.ROOM_DATA_BYTES:
            r = Reader(data, 1)
            type = _read_type(r)
            rest = data[r.pos:]
            return RoomData(type, rest) if code == Protocol.ROOM_DATA else RoomDataBytes(type, rest)
    except (IndexError, UnicodeDecodeError, DecodeError, ValueError, OverflowError) as e:
        raise ProtocolError(f"malformed frame (code {code}): {e}") from None
    return None
