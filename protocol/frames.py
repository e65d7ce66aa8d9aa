"""The frames of the Colyseus room protocol, sans I/O: bytes in, messages out, and back.

Every WebSocket frame is binary and starts with a ``Protocol`` code. Message
types and ERROR fields use the schema's small codec (msgpack-like prefixes,
little-endian bodies: ``pyseus.schema.wire``); message payloads are MessagePack
(``messagepack``). The server builds what clients parse and parses what they
build; the Python client does the reverse with the same functions.

JOIN_ROOM has three layouts (``generations``): the 0.16/0.17 one (the 3.x
reflection runs to the end of the frame), the 0.18 one (a length-prefixed 5.x
reflection, then tagged sections), and a polyglot one that every generation
parses. ``parse_server_frame`` reads all three.
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
    "RoomState", "RoomPatch", "Ping", "RoomRequest", "RoomResponse", "ClientFrame", "ServerFrame",
    "join_room", "join_room_v18", "join_room_polyglot", "join_ack", "error", "leave_room", "room_data",
    "room_data_bytes", "room_state", "room_patch", "ping", "room_request", "room_response",
    "encode_type", "parse_client_frame", "parse_server_frame",
]

_CODE_MASK = 0x1F              # 0.18: the high bits of the first byte are modifiers
_TIMED, _UNRELIABLE = 0x80, 0x40
# (plain ints for the tests made on every message: an enum member lookup costs ~70 ns)
_ROOM_DATA, _ROOM_DATA_BYTES = int(Protocol.ROOM_DATA), int(Protocol.ROOM_DATA_BYTES)
_POLYGLOT_TAG = 0x7F           # the section that carries the 3.x reflection for 0.16/0.17

MessageType = Union[str, int]


# ---------------------------------------------------------------- messages

@dataclass(frozen=True, slots=True)
class JoinRoom:
    """Server -> client: the seat is taken (reconnection token, serializer, handshake).

    ``handshake`` is the state's reflection (3.x or 5.x form; empty when the
    server sent none); ``sections`` the 0.18 tagged sections, by tag."""
    reconnection_token: str
    serializer: str
    handshake: bytes
    sections: tuple[tuple[int, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class JoinAck:
    """Client -> server: the client got JOIN_ROOM and is ready for the state."""


@dataclass(frozen=True, slots=True)
class ErrorMessage:
    """Server -> client: an error code and its text."""
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class LeaveRoom:
    """Client -> server: a consented leave."""


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class RoomDataBytes:
    """A message of raw bytes."""
    type: MessageType
    data: bytes


@dataclass(frozen=True, slots=True)
class RoomState:
    """Server -> client: the full state."""
    data: bytes


@dataclass(frozen=True, slots=True)
class RoomPatch:
    """Server -> client: a patch."""
    data: bytes


@dataclass(frozen=True, slots=True)
class Ping:
    """Both ways (0.17+): the client asks, the server answers the same byte."""


@dataclass(frozen=True, slots=True)
class RoomRequest:
    """Client -> server (0.18): a message that expects a ROOM_RESPONSE with the same id."""
    request_id: int
    type: MessageType
    payload: bytes

    def message(self) -> Any:
        """The decoded payload (None when there is none); raises ProtocolError."""
        return RoomData(self.type, self.payload).message()


@dataclass(frozen=True, slots=True)
class RoomResponse:
    """Server -> client (0.18): the answer to a RoomRequest (``status``: ResponseStatus)."""
    request_id: int
    status: int
    payload: bytes

    def message(self) -> Any:
        """The decoded payload (None when there is none); raises ProtocolError."""
        return RoomData("response", self.payload).message()


ClientFrame = Union[JoinAck, LeaveRoom, RoomData, RoomDataBytes, Ping, RoomRequest]
ServerFrame = Union[JoinRoom, ErrorMessage, RoomData, RoomDataBytes, RoomState, RoomPatch, Ping, RoomResponse]


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
    """JOIN_ROOM as 0.16 and 0.17 write it: the handshake runs to the end of the frame.
    Without a handshake every generation parses it."""
    token = reconnection_token.encode()
    ser = serializer.encode()
    if len(token) > 255 or len(ser) > 255:
        raise ValueError("the token and the serializer id must be shorter than 256 bytes")
    return bytes([Protocol.JOIN_ROOM, len(token)]) + token + bytes([len(ser)]) + ser + handshake


def _length(n: int) -> bytes:
    # a length in the number codec, never as a fixint: 0.16/0.17 decoders read this
    # byte as an op on the reflection's root, which must name a field it lacks
    if n < 0x100:
        return bytes((0xCC, n))
    if n < 0x10000:
        return b"\xcd" + n.to_bytes(2, "little")
    return b"\xce" + n.to_bytes(4, "little")


def join_room_v18(reconnection_token: str, serializer: str, reflection: bytes = b"",
                  sections: tuple[tuple[int, bytes], ...] = ()) -> bytes:
    """JOIN_ROOM as 0.18 writes it: a length-prefixed (5.x) reflection, then tagged sections."""
    out = join_room(reconnection_token, serializer) + (encode_primitive("number", len(reflection)) + reflection
                                                       if reflection else b"\x00")
    for tag, payload in sections:
        out += bytes((tag,)) + encode_primitive("number", len(payload)) + payload
    return out


def join_room_polyglot(reconnection_token: str, serializer: str, reflection5: bytes, reflection3: bytes) -> bytes:
    """A JOIN_ROOM that 0.16, 0.17 and 0.18 clients all parse (with a handshake).

    0.18 reads the length-prefixed 5.x reflection and skips the unknown section
    0x7F. A 0.16/0.17 decoder takes the length's first byte for an op on a field
    its reflection root does not have, skips to the first SWITCH_TO_STRUCTURE of
    a structure it knows (``ff 00``: the root) and decodes the 3.x reflection
    from there. So nothing before that ``ff 00`` may contain it.
    """
    carried = b"\xff\x00" + reflection3
    head = join_room(reconnection_token, serializer)
    before = _length(len(reflection5)) + reflection5 + bytes((_POLYGLOT_TAG,)) + _length(len(carried))
    if b"\xff\x00" in before:
        raise ValueError("this reflection cannot be carried in a polyglot JOIN_ROOM (it contains ff 00)")
    return head + before + carried

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


def ping() -> bytes:
    return bytes([Protocol.PING])


def room_request(request_id: int, type: MessageType, message: Any = None) -> bytes:
    """ROOM_REQUEST (0.18); no payload when ``message`` is None."""
    frame = bytes([Protocol.ROOM_REQUEST]) + encode_primitive("number", request_id) + encode_type(type)
    return frame if message is None else frame + messagepack.pack(message)


def room_response(request_id: int, status: int, message: Any = None) -> bytes:
    """ROOM_RESPONSE (0.18); no payload when ``message`` is None."""
    frame = bytes([Protocol.ROOM_RESPONSE]) + encode_primitive("number", request_id) + bytes((status,))
    return frame if message is None else frame + messagepack.pack(message)


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


def _room_data(code: int, data: bytes, start: int = 1) -> RoomData | RoomDataBytes:
    # ROOM_DATA and ROOM_DATA_BYTES read the same in both directions
    cls = RoomData if code == _ROOM_DATA else RoomDataBytes
    if start < len(data) and 0xA1 <= data[start] <= 0xBF:
        # (the usual type, a short string: read without a Reader, a few steps per message)
        end = start + data[start] - 0x9F
        if end <= len(data):
            try:
                return cls(data[start + 1:end].decode(), data[end:])
            except UnicodeDecodeError:
                pass            # (the Reader below reports it)
    r = Reader(data, start)
    type = _read_type(r)
    return cls(type, data[r.pos:])


def _request_id(r: Reader) -> int:
    value = r.index("request id")
    if value > 0xFFFFFFFF:
        raise ProtocolError(f"request id {value} is not a uint32")
    return int(value)


def _join_room(data: bytes) -> JoinRoom:
    n = data[1]
    token = data[2:2 + n].decode()
    m = data[2 + n]
    if len(data) < 3 + n + m:
        raise ProtocolError("truncated JOIN_ROOM")
    serializer = data[3 + n:3 + n + m].decode()
    start = 3 + n + m
    if start == len(data):
        return JoinRoom(token, serializer, b"")
    first = data[start]
    if not (first < 0x80 or first in (0xCC, 0xCD, 0xCE)):
        return JoinRoom(token, serializer, data[start:])       # 0.16/0.17: the rest is the handshake
    # 0.18 (and the polyglot frame): a length-prefixed reflection, then sections
    r = Reader(data, start)
    length = r.index("reflection length")
    if length > r.end - r.pos:
        raise ProtocolError("truncated JOIN_ROOM reflection")
    handshake = data[r.pos:r.pos + length]
    r.pos += length
    sections = []
    while r.pos < r.end:
        tag = r.byte()
        size = r.index("section length")
        if size > r.end - r.pos:
            raise ProtocolError(f"truncated JOIN_ROOM section {tag}")
        sections.append((tag, data[r.pos:r.pos + size]))
        r.pos += size
    return JoinRoom(token, serializer, handshake, tuple(sections))


def parse_client_frame(data: bytes) -> ClientFrame | None:
    """A frame from a client; None for codes the server ignores (as the reference does)."""
    if not data:
        raise ProtocolError("empty frame")
    if data.__class__ is not bytes:
        data = bytes(data)
    code = data[0]
    try:
        if code == _ROOM_DATA or code == _ROOM_DATA_BYTES:     # (the usual frame, tested first)
            return _room_data(code, data)
        if code == Protocol.JOIN_ROOM:
            return JoinAck()
        if code == Protocol.LEAVE_ROOM:
            return LeaveRoom()
        if code == Protocol.PING:
            return Ping()
        if code == Protocol.ROOM_REQUEST:
            r = Reader(data, 1)
            request_id = _request_id(r)
            type = _read_type(r)
            return RoomRequest(request_id, type, data[r.pos:])
    except (DecodeError, ValueError, OverflowError) as e:
        raise ProtocolError(f"malformed frame (code {code}): {e}") from None
    return None


def parse_server_frame(data: bytes) -> ServerFrame | None:
    """A frame from a server; None for codes a client ignores."""
    if not data:
        raise ProtocolError("empty frame")
    data = bytes(data)
    code = data[0] & _CODE_MASK
    try:
        if data[0] & _TIMED:            # 0.18 rooms with defineInput(): server time and input ack
            data = data[:1] + data[9:]
        elif data[0] & _UNRELIABLE:     # 0.18 datagrams: a sequence number
            data = data[:1] + data[3:]
        if code == Protocol.JOIN_ROOM:
            return _join_room(data)
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
        if code == Protocol.PING:
            return Ping()
        if code == Protocol.ROOM_RESPONSE:
            r = Reader(data, 1)
            request_id = _request_id(r)
            status = r.byte()
            return RoomResponse(request_id, status, data[r.pos:])
    except (IndexError, UnicodeDecodeError, DecodeError, ValueError, OverflowError) as e:
        raise ProtocolError(f"malformed frame (code {code}): {e}") from None
    return None
