"""WebSocket framing (RFC 6455, section 5), without I/O.

``FrameParser`` turns the bytes of a connection into whole messages (one
``feed()`` per read, any number of messages per call, fragments joined) and
raises ``FrameError`` with the close code the RFC asks for on anything a peer
must not send. ``frame()`` builds a frame and ``close_frame()`` a close frame.
Both the parser and ``frame()`` are compiled (``_framing``): every message a
room receives or a client sends goes through them. The server's transport
reads room sockets with the parser (a read becomes calls to the session with
no task switch per message), and the client's WebSocket too.

What is left to the caller: the opening handshake (``accept_key()`` computes
its answer), and what to do with pings, pongs and close frames.
"""
from __future__ import annotations

import base64
import hashlib
import os
import struct

from ._framing import FrameParser, forget_mask_keys, frame
from .codes import CloseCode
from .errors import FrameError

__all__ = ["FrameParser", "FrameError", "frame", "close_frame", "parse_close", "accept_key",
           "CONTINUATION", "TEXT", "BINARY", "CLOSE", "PING", "PONG"]

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_PROTOCOL_ERROR, _INVALID_DATA = CloseCode.PROTOCOL_ERROR, CloseCode.INVALID_DATA


# (a child must not reuse the parent's mask keys)
os.register_at_fork(after_in_child=forget_mask_keys)


def close_frame(code: int | None, reason: bytes = b"", *, mask: bool = False) -> bytes:
    """A close frame with a status code and a reason of at most 123 bytes (none without a code)."""
    if code is None:
        return frame(CLOSE, b"", mask=mask)
    return frame(CLOSE, struct.pack("!H", code) + reason[:123], mask=mask)


def parse_close(payload: bytes) -> tuple[int | None, str]:
    """The status code (None when absent) and reason of a close frame."""
    if not payload:
        return None, ""
    if len(payload) == 1:
        raise FrameError(_PROTOCOL_ERROR, "close frame of one byte")
    code = int.from_bytes(payload[:2], "big")
    if not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999):
        raise FrameError(_PROTOCOL_ERROR, f"invalid close code {code}")
    try:
        reason = payload[2:].decode()
    except UnicodeDecodeError:
        raise FrameError(_INVALID_DATA, "close reason that is not UTF-8") from None
    return code, reason


def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept answer to a Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
