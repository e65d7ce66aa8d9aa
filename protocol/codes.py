"""The numbers of the Colyseus room protocol: frame codes, close codes, error codes.

They are the union of the three client generations (0.16, 0.17, 0.18); what
differs between them (how an error code is numbered on the wire, which close
code a shutdown uses) is in ``generations``.
"""
from __future__ import annotations

from enum import IntEnum

__all__ = ["Protocol", "CloseCode", "ErrorCode", "ResponseStatus", "close_reason", "MAX_CLOSE_REASON"]


class Protocol(IntEnum):
    """Frame codes: the first byte of every WebSocket frame."""
    HANDSHAKE = 9
    JOIN_ROOM = 10
    ERROR = 11
    LEAVE_ROOM = 12
    ROOM_DATA = 13
    ROOM_STATE = 14
    ROOM_STATE_PATCH = 15
    ROOM_DATA_SCHEMA = 16
    ROOM_DATA_BYTES = 17
    PING = 18                       # 0.17+: answered with the same byte
    ROOM_INPUT_RELIABLE = 19        # 0.18: only after the server advertises input
    ROOM_INPUT_UNRELIABLE = 20
    ROOM_REQUEST = 21               # 0.18: client -> server, answered by a ROOM_RESPONSE
    ROOM_RESPONSE = 22


class CloseCode(IntEnum):
    """WebSocket close codes."""
    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    NO_STATUS = 1005
    ABNORMAL_CLOSURE = 1006
    INVALID_DATA = 1007
    MESSAGE_TOO_BIG = 1009
    SERVER_ERROR = 1011
    CONSENTED = 4000
    SERVER_SHUTDOWN = 4001          # 0.17+
    WITH_ERROR = 4002
    FAILED_TO_RECONNECT = 4003      # 0.17+
    DEVMODE_RESTART = 4010
    MAY_TRY_RECONNECT = 4010        # (the 0.17 name)
    SERVER_DISCONNECT = 4201
    TOO_MANY_CLIENTS = 4202


class ErrorCode(IntEnum):
    """Error codes of ERROR frames and of matchmaking responses, as 0.16 numbers them
    (0.17+ number 4210-4216 as 520-526: ``generations.wire_error_code``)."""
    SEAT_RESERVATION_EXPIRED = 0    # an undefined code in the reference: ERROR frames of a refused seat
    MATCHMAKE_NO_HANDLER = 4210
    MATCHMAKE_INVALID_CRITERIA = 4211
    MATCHMAKE_INVALID_ROOM_ID = 4212
    MATCHMAKE_UNHANDLED = 4213
    MATCHMAKE_EXPIRED = 4214
    AUTH_FAILED = 4215
    APPLICATION_ERROR = 4216
    INVALID_PAYLOAD = 4217


class ResponseStatus(IntEnum):
    """The status byte of a ROOM_RESPONSE (0.18)."""
    OK = 0
    REJECTED = 1
    ERROR = 2


# A close frame's payload is at most 125 bytes: the 2-byte code and the reason.
MAX_CLOSE_REASON = 123


def close_reason(reason: str) -> bytes:
    """``reason`` as a close frame carries it: UTF-8, cut to 123 bytes on a character boundary."""
    data = reason.encode("utf-8", "replace")
    if len(data) <= MAX_CLOSE_REASON:
        return data
    return data[:MAX_CLOSE_REASON].decode("utf-8", "ignore").encode()
