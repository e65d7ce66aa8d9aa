"""The numbers of the Colyseus room protocol: frame codes, close codes, error codes."""
from __future__ import annotations

from enum import IntEnum

__all__ = ["Protocol", "CloseCode", "ErrorCode"]


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


class CloseCode(IntEnum):
    """WebSocket close codes."""
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
    SEAT_RESERVATION_EXPIRED = 0    # an undefined code in the reference: ERROR frames of a refused seat
    MATCHMAKE_NO_HANDLER = 4210
    MATCHMAKE_INVALID_CRITERIA = 4211
    MATCHMAKE_INVALID_ROOM_ID = 4212
    MATCHMAKE_UNHANDLED = 4213
    MATCHMAKE_EXPIRED = 4214
    AUTH_FAILED = 4215
    APPLICATION_ERROR = 4216
    INVALID_PAYLOAD = 4217
