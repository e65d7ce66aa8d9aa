"""The compiled half of ``websocket``: the frame parser, frames and the XOR mask.

Every message a room receives passes through ``FrameParser.feed``, and every
message a client sends through ``frame``, so both are compiled: the header,
the masking and the checks run in C, and a small message costs one call.
``websocket`` re-exports them and keeps the rest (close payloads, the
handshake key) in Python.
"""

import os

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t, uint64_t
from libc.string cimport memcpy

from .codes import CloseCode
from .errors import FrameError

__all__ = ["FrameParser", "frame", "mask", "forget_mask_keys"]

cdef enum:
    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8

cdef int _PROTOCOL_ERROR = CloseCode.PROTOCOL_ERROR
cdef int _INVALID_DATA = CloseCode.INVALID_DATA
cdef int _TOO_BIG = CloseCode.MESSAGE_TOO_BIG


cdef bytes _xor(const uint8_t* data, Py_ssize_t n, const uint8_t* key):
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    _xor_into(<uint8_t*>PyBytes_AS_STRING(out), data, n, key)
    return out


cdef void _xor_into(uint8_t* o, const uint8_t* data, Py_ssize_t n, const uint8_t* key) noexcept:
    # data ^ key repeated; 8 bytes at a time (the key is 4 bytes, so its 8-byte
    # repetition lines up at every multiple of 8)
    cdef uint8_t key8[8]
    cdef uint64_t word, k
    cdef Py_ssize_t i = 0
    for i in range(8):
        key8[i] = key[i & 3]
    memcpy(&k, key8, 8)
    i = 0
    while i + 8 <= n:
        memcpy(&word, data + i, 8)
        word ^= k
        memcpy(o + i, &word, 8)
        i += 8
    while i < n:
        o[i] = data[i] ^ key[i & 3]
        i += 1


def mask(payload, key):
    """``payload`` XOR the 4-byte ``key`` repeated (masking and unmasking are the same)."""
    cdef bytes p = bytes(payload), k = bytes(key)
    if PyBytes_GET_SIZE(k) != 4:
        raise ValueError("a mask key is 4 bytes")
    return _xor(<const uint8_t*>PyBytes_AS_STRING(p), PyBytes_GET_SIZE(p), <const uint8_t*>PyBytes_AS_STRING(k))


# Mask keys must be unpredictable (RFC 6455 5.3): drawn from os.urandom, but
# 4 KiB at a time rather than a system call for each frame a client sends.
cdef bytes _keys = b""
cdef Py_ssize_t _key_at = 0


def forget_mask_keys():
    """Drop the keys drawn so far (a forked child must not reuse its parent's)."""
    global _keys, _key_at
    _keys, _key_at = b"", 0


cdef const uint8_t* _next_key() except NULL:
    global _keys, _key_at
    if _key_at + 4 > PyBytes_GET_SIZE(_keys):
        _keys, _key_at = os.urandom(4096), 0
    _key_at += 4
    return <const uint8_t*>PyBytes_AS_STRING(_keys) + _key_at - 4


def frame(int opcode, payload=b"", *, bint mask=False):
    """One whole frame (clients mask theirs, servers do not)."""
    cdef bytes p = payload if type(payload) is bytes else bytes(payload)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(p)
    cdef Py_ssize_t head = 2 if n < 126 else (4 if n < 65536 else 10)
    cdef Py_ssize_t key_size = 4 if mask else 0
    cdef bytes out = PyBytes_FromStringAndSize(NULL, head + key_size + n)
    cdef uint8_t* o = <uint8_t*>PyBytes_AS_STRING(out)
    cdef const uint8_t* data = <const uint8_t*>PyBytes_AS_STRING(p)
    cdef const uint8_t* key
    cdef uint8_t mask_bit = 0x80 if mask else 0
    cdef int i
    o[0] = 0x80 | (opcode & 0x0F)
    if n < 126:
        o[1] = mask_bit | <uint8_t>n
    elif n < 65536:
        o[1] = mask_bit | 126
        o[2] = <uint8_t>(n >> 8)
        o[3] = <uint8_t>n
    else:
        o[1] = mask_bit | 127
        for i in range(8):
            o[2 + i] = <uint8_t>((<uint64_t>n) >> (8 * (7 - i)))
    if not mask:
        memcpy(o + head, data, n)
        return out
    key = _next_key()
    memcpy(o + head, key, 4)
    _xor_into(o + head + 4, data, n, key)
    return out


cdef class FrameParser:
    """Whole messages from a byte stream: ``feed(data)`` returns ``[(opcode, payload)]``.

    ``masked``: frames must be masked (what a server reads) or must not be (a
    client). ``max_payload`` bounds a message, fragments included (1009 past
    it, known from the header before the payload arrives). Data messages come
    out as TEXT or BINARY (a TEXT payload is checked UTF-8 and kept as bytes),
    control frames as they arrive, between the fragments of a message if so.
    After a ``FrameError`` the parser is spent.
    """

    cdef bytes _buffer
    cdef Py_ssize_t _max
    cdef bint _masked
    cdef list _fragments
    cdef int _fragment_op           # the opcode of the message being fragmented (0: none)
    cdef Py_ssize_t _fragment_size

    def __init__(self, Py_ssize_t max_payload, *, bint masked):
        if max_payload < 0:
            raise ValueError("max_payload must not be negative")
        self._buffer = b""
        self._max = max_payload
        self._masked = masked
        self._fragments = []
        self._fragment_op = 0
        self._fragment_size = 0

    @property
    def buffered(self):
        """Bytes received that do not complete a frame yet."""
        return PyBytes_GET_SIZE(self._buffer)

    def feed(self, data):
        cdef bytes chunk = data if type(data) is bytes else bytes(data)
        cdef bytes buf = self._buffer + chunk if PyBytes_GET_SIZE(self._buffer) else chunk
        cdef const uint8_t* p = <const uint8_t*>PyBytes_AS_STRING(buf)
        cdef Py_ssize_t end = PyBytes_GET_SIZE(buf)
        cdef Py_ssize_t pos = 0, at, size
        cdef uint64_t length
        cdef int b0, b1, op, i
        cdef bytes payload
        cdef list out = []
        while end - pos >= 2:
            b0 = p[pos]
            b1 = p[pos + 1]
            op = b0 & 0x0F
            length = b1 & 0x7F
            at = pos + 2
            if length == 126:
                if end - at < 2:
                    break
                length = (<uint64_t>p[at] << 8) | p[at + 1]
                at += 2
            elif length == 127:
                if end - at < 8:
                    break
                length = 0
                for i in range(8):
                    length = (length << 8) | p[at + i]
                at += 8
            self._check_header(b0, b1, op, length)
            size = <Py_ssize_t>length      # (at most max_payload now)
            if b1 & 0x80:
                if end - at < 4 + size:
                    break
                payload = _xor(p + at + 4, size, p + at)
                at += 4 + size
            else:
                if end - at < size:
                    break
                payload = PyBytes_FromStringAndSize(<const char*>(p + at), size)
                at += size
            pos = at
            message = self._message(b0 & 0x80, op, payload)
            if message is not None:
                out.append(message)
        self._buffer = buf[pos:] if pos < end else b""
        return out

    cdef int _check_header(self, int b0, int b1, int op, uint64_t length) except -1:
        if b0 & 0x70:
            raise FrameError(_PROTOCOL_ERROR, "reserved bits set (no extension was agreed)")
        if bool(b1 & 0x80) != self._masked:
            raise FrameError(_PROTOCOL_ERROR, "frames must be masked" if self._masked else "masked frame")
        if op >= CLOSE:
            if op > 0xA:
                raise FrameError(_PROTOCOL_ERROR, f"unknown opcode {op}")
            if not b0 & 0x80 or length > 125:
                raise FrameError(_PROTOCOL_ERROR, "control frames must be whole and at most 125 bytes")
            return 0
        if op > BINARY:
            raise FrameError(_PROTOCOL_ERROR, f"unknown opcode {op}")
        if op == CONTINUATION and not self._fragment_op:
            raise FrameError(_PROTOCOL_ERROR, "continuation frame without a message")
        if op != CONTINUATION and self._fragment_op:
            raise FrameError(_PROTOCOL_ERROR, "new message before the end of the fragmented one")
        if length > <uint64_t>(self._max - self._fragment_size):
            raise FrameError(_TOO_BIG, f"message larger than {self._max} bytes")
        return 0

    cdef object _message(self, int fin, int op, bytes payload):
        if op >= CLOSE:
            return op, payload
        if op == CONTINUATION:
            self._fragments.append(payload)
            self._fragment_size += PyBytes_GET_SIZE(payload)
            if not fin:
                return None
            op, payload = self._fragment_op, b"".join(self._fragments)
            self._fragments, self._fragment_op, self._fragment_size = [], 0, 0
        elif not fin:
            self._fragments, self._fragment_op, self._fragment_size = [payload], op, PyBytes_GET_SIZE(payload)
            return None
        if op == TEXT:
            try:
                payload.decode()
            except UnicodeDecodeError:
                raise FrameError(_INVALID_DATA, "text message that is not UTF-8") from None
        return op, payload
