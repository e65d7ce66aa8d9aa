"""WebSocket framing (RFC 6455, section 5), without I/O.

``FrameParser`` turns the bytes of a connection into whole messages (one
``feed()`` per read, any number of messages per call, fragments joined) and
raises ``FrameError`` with the close code the RFC asks for on anything a peer
must not send. ``frame()`` and ``close_frame()`` build frames. The server's
transport reads room sockets with it (a read becomes calls to the session with
no task switch per message), and the load generator's lean client too.

What is left to the caller: the opening handshake (``accept_key()`` computes
its answer), and what to do with pings, pongs and close frames.
"""
from __future__ import annotations

import base64
import hashlib
import os
import struct

from .codes import CloseCode

__all__ = ["FrameParser", "FrameError", "frame", "close_frame", "parse_close", "accept_key",
           "CONTINUATION", "TEXT", "BINARY", "CLOSE", "PING", "PONG"]

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_DATA = (CONTINUATION, TEXT, BINARY)
_CONTROL = (CLOSE, PING, PONG)
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_PROTOCOL_ERROR, _INVALID_DATA, _TOO_BIG = CloseCode.PROTOCOL_ERROR, CloseCode.INVALID_DATA, CloseCode.MESSAGE_TOO_BIG


class FrameError(Exception):
    """The peer broke the framing rules: close the connection with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{reason} (close {code})")
        self.code = code
        self.reason = reason


class FrameParser:
    """Whole messages from a byte stream: ``feed(data)`` returns ``[(opcode, payload)]``.

    ``masked``: frames must be masked (what a server reads) or must not be (a
    client). ``max_payload`` bounds a message, fragments included (1009 past
    it, known from the header before the payload arrives). Data messages come
    out as TEXT or BINARY (a TEXT payload is checked UTF-8 and kept as bytes),
    control frames as they arrive, between the fragments of a message if so.
    After a ``FrameError`` the parser is spent.
    """

    __slots__ = ("_buffer", "_max", "_masked", "_fragments", "_fragment_op", "_fragment_size")

    def __init__(self, max_payload: int, *, masked: bool) -> None:
        self._buffer = b""
        self._max = max_payload
        self._masked = masked
        self._fragments: list[bytes] = []
        self._fragment_op = 0           # the opcode of the message being fragmented (0: none)
        self._fragment_size = 0

    @property
    def buffered(self) -> int:
        """Bytes received that do not complete a frame yet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buf = self._buffer + data if self._buffer else data
        end = len(buf)
        pos = 0
        out: list[tuple[int, bytes]] = []
        while end - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            op = b0 & 0x0F
            length = b1 & 0x7F
            at = pos + 2
            if length == 126:
                if end - at < 2:
                    break
                length = int.from_bytes(buf[at:at + 2], "big")
                at += 2
            elif length == 127:
                if end - at < 8:
                    break
                length = int.from_bytes(buf[at:at + 8], "big")
                at += 8
            self._check_header(b0, b1, op, length)
            if b1 & 0x80:
                if end - at < 4 + length:
                    break
                payload = _mask(buf[at + 4:at + 4 + length], buf[at:at + 4])
                at += 4 + length
            else:
                if end - at < length:
                    break
                payload = buf[at:at + length]
                at += length
            pos = at
            message = self._message(b0 & 0x80, op, payload)
            if message is not None:
                out.append(message)
        self._buffer = buf[pos:] if pos < end else b""
        return out

    def _check_header(self, b0: int, b1: int, op: int, length: int) -> None:
        if b0 & 0x70:
            raise FrameError(_PROTOCOL_ERROR, "reserved bits set (no extension was agreed)")
        if bool(b1 & 0x80) != self._masked:
            raise FrameError(_PROTOCOL_ERROR, "frames must be masked" if self._masked else "masked frame")
        if op in _CONTROL:
            if not b0 & 0x80 or length > 125:
                raise FrameError(_PROTOCOL_ERROR, "control frames must be whole and at most 125 bytes")
            return
        if op not in _DATA:
            raise FrameError(_PROTOCOL_ERROR, f"unknown opcode {op}")
        if op == CONTINUATION and not self._fragment_op:
            raise FrameError(_PROTOCOL_ERROR, "continuation frame without a message")
        if op != CONTINUATION and self._fragment_op:
            raise FrameError(_PROTOCOL_ERROR, "new message before the end of the fragmented one")
        if self._fragment_size + length > self._max:
            raise FrameError(_TOO_BIG, f"message larger than {self._max} bytes")

    def _message(self, fin: int, op: int, payload: bytes) -> tuple[int, bytes] | None:
        if op >= CLOSE:
            return op, payload
        if op == CONTINUATION:
            self._fragments.append(payload)
            self._fragment_size += len(payload)
            if not fin:
                return None
            op, payload = self._fragment_op, b"".join(self._fragments)
            self._fragments, self._fragment_op, self._fragment_size = [], 0, 0
        elif not fin:
            self._fragments, self._fragment_op, self._fragment_size = [payload], op, len(payload)
            return None
        if op == TEXT:
            try:
                payload.decode()
            except UnicodeDecodeError:
                raise FrameError(_INVALID_DATA, "text message that is not UTF-8") from None
        return op, payload


def _mask(payload: bytes, mask: bytes) -> bytes:
    # (masking and unmasking are the same XOR)
    n = len(payload)
    if not n:
        return b""
    # one big-integer XOR: C speed for the payload sizes of game messages
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def frame(opcode: int, payload: bytes = b"", *, mask: bool = False) -> bytes:
    """One whole frame (clients mask theirs, servers do not)."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, n | (0x80 if mask else 0)))
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126 | (0x80 if mask else 0), n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127 | (0x80 if mask else 0), n)
    if not mask:
        return header + payload
    key = _mask_key()
    return header + key + _mask(payload, key)


class _MaskKeys:
    # Mask keys must be unpredictable (RFC 6455 5.3): drawn from os.urandom, but
    # 4 KiB at a time rather than a system call for each frame a client sends.
    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def __call__(self) -> bytes:
        at = self._at
        if at >= len(self._pool):
            self._pool, at = os.urandom(4096), 0
        self._at = at + 4
        return self._pool[at:at + 4]

    def forget(self) -> None:
        self._pool, self._at = b"", 0


_mask_key = _MaskKeys()
os.register_at_fork(after_in_child=_mask_key.forget)       # (a child must not reuse the parent's keys)


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
