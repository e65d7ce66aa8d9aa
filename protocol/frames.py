"""The frames of the Colyseus room protocol, sans I/O: bytes in, messages out, and back.

Every WebSocket frame is binary and starts with a ``Protocol`` code. Message
types and ERROR fields use the schema's small codec (msgpack-like prefixes,
little-endian bodies: ``pyseus.schema.wire``); message payloads are MessagePack
(``messagepack``). The server builds what clients parse and parses what they
build; the Python client does the reverse with the same functions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from pyseus.schema.errors import DecodeError
from pyseus.schema.wire import Reader, encode_primitive

from . import messagepack
from .codes import Protocol
from .errors import MessagePackError, ProtocolError

__all__ = [
    "MessageType", "JoinRoom", "JoinAck", "ErrorMessage", "LeaveRoom", "RoomData", "RoomDataBytes",
    "RoomState", "RoomPatch", "ClientFrame", "ServerFrame",
    "join_room", "join_ack", "error", "leave_room", "room_data", "room_data_bytes", "room_state", "room_patch",
    "encode_type", "parse_client_frame", "parse_server_frame",
]

MessageType = Union[str, int]


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
    """Server -> client: an error code and its text."""
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

    def message(self) -> Any:
        """The decoded payload (None when there is none); raises ProtocolError."""
        if not self.payload:
            return None
        try:
            return messagepack.unpack(self.payload)
        except MessagePackError as e:
            raise ProtocolError(f"undecodable payload of message {self.type!r}: {e}") from None


@dataclass(frozen=True)
class RoomDataBytes:
    """A message of raw bytes."""
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


ClientFrame = Union[JoinAck, LeaveRoom, RoomData, RoomDataBytes]
ServerFrame = Union[JoinRoom, ErrorMessage, RoomData, RoomDataBytes, RoomState, RoomPatch]


# ---------------------------------------------------------------- building

def encode_type(type: MessageType) -> bytes:
    """A message type in the small codec (string, or number)."""
    if isinstance(type, str):
        if not type:
            raise ValueError("the empty string cannot be a message type (clients read it as a number)")
        return encode_primitive("string", type)
    if isinstance(type, bool) or not isinstance(type, int):
        raise TypeError(f"a message type is a str or an int, got {type.__class__.__name__}")
    return encode_primitive("number", type)


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
    return bytes([Protocol.ERROR]) + encode_primitive("number", int(code)) + encode_primitive("string", message)


def room_data(type: MessageType, message: Any = None) -> bytes:
    """ROOM_DATA; no payload when ``message`` is None."""
    frame = bytes([Protocol.ROOM_DATA]) + encode_type(type)
    return frame if message is None else frame + messagepack.pack(message)


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
    if 0xA1 <= p <= 0xBF or p in (0xD9, 0xDA, 0xDB):
        return r.string()
    value = r.number()
    if isinstance(value, float):
        if not value.is_integer():
            raise ProtocolError(f"invalid message type {value!r}")
        value = int(value)
    return value


def _room_data(code: int, data: bytes) -> RoomData | RoomDataBytes:
    # ROOM_DATA and ROOM_DATA_BYTES read the same in both directions
    r = Reader(data, 1)
    type = _read_type(r)
    rest = data[r.pos:]
    return RoomData(type, rest) if code == Protocol.ROOM_DATA else RoomDataBytes(type, rest)


def parse_client_frame(data: bytes) -> ClientFrame | None:
    """A frame from a client; None for codes the server ignores (as the reference does)."""
    if not data:
        raise ProtocolError("empty frame")
    data = bytes(data)
    code = data[0]
    try:
        if code == Protocol.JOIN_ROOM:
            return JoinAck()
        if code == Protocol.LEAVE_ROOM:
            return LeaveRoom()
        if code == Protocol.ROOM_DATA or code == Protocol.ROOM_DATA_BYTES:
            return _room_data(code, data)
    except (DecodeError, ValueError, OverflowError) as e:
        raise ProtocolError(f"malformed frame (code {code}): {e}") from None
    return None


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
            return _room_data(code, data)
    except (IndexError, UnicodeDecodeError, DecodeError, ValueError, OverflowError) as e:
        raise ProtocolError(f"malformed frame (code {code}): {e}") from None
    return None
