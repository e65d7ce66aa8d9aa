"""Reading the primitive encodings of the @colyseus/schema wire format.

Every read is bounds-checked and raises ``DecodeError`` with the offset.
"""
from __future__ import annotations

import struct
from typing import Any

from .errors import DecodeError

__all__ = ["Reader"]

_F32 = struct.Struct("<f").unpack_from
_F64 = struct.Struct("<d").unpack_from
_U16 = struct.Struct("<H").unpack_from
_I16 = struct.Struct("<h").unpack_from
_U32 = struct.Struct("<I").unpack_from
_I32 = struct.Struct("<i").unpack_from
_U64 = struct.Struct("<Q").unpack_from
_I64 = struct.Struct("<q").unpack_from
_I8 = struct.Struct("<b").unpack_from

# number prefix -> (struct reader, size)
_NUMBER_FORMS = {
    0xCA: (_F32, 4), 0xCB: (_F64, 8),
    0xCC: (struct.Struct("<B").unpack_from, 1), 0xCD: (_U16, 2), 0xCE: (_U32, 4), 0xCF: (_U64, 8),
    0xD0: (_I8, 1), 0xD1: (_I16, 2), 0xD2: (_I32, 4), 0xD3: (_I64, 8),
}

# primitive type codes (same numbering as the compiled core)
STRING, NUMBER, BOOLEAN, INT8, UINT8, INT16, UINT16, INT32, UINT32, INT64, UINT64, FLOAT32, \
    FLOAT64, BIGINT64, BIGUINT64 = range(15)

_FIXED = {
    INT8: (_I8, 1), UINT8: (struct.Struct("<B").unpack_from, 1),
    INT16: (_I16, 2), UINT16: (_U16, 2), INT32: (_I32, 4), UINT32: (_U32, 4),
    INT64: (_I64, 8), UINT64: (_U64, 8), BIGINT64: (_I64, 8), BIGUINT64: (_U64, 8),
    FLOAT32: (_F32, 4), FLOAT64: (_F64, 8),
}


class Reader:
    """A cursor over one message."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data)

    def fail(self, message: str, at: int | None = None) -> DecodeError:
        return DecodeError(message, self.pos if at is None else at)

    def byte(self) -> int:
        pos = self.pos
        if pos >= self.end:
            raise self.fail("unexpected end of data")
        self.pos = pos + 1
        return self.data[pos]

    def peek(self) -> int:
        return self.data[self.pos] if self.pos < self.end else -1

    def _take(self, size: int) -> int:
        pos = self.pos
        if pos + size > self.end:
            raise self.fail(f"unexpected end of data (needed {size} bytes)")
        self.pos = pos + size
        return pos

    def number(self) -> int | float:
        at = self.pos
        p = self.byte()
        if p < 0x80:
            return p
        if p >= 0xE0:
            return p - 0x100
        form = _NUMBER_FORMS.get(p)
        if form is None:
            raise self.fail(f"invalid number prefix 0x{p:02x}", at)
        reader, size = form
        number: int | float = reader(self.data, self._take(size))[0]
        return number

    def index(self, what: str = "index") -> int:
        """A number used as a refId, index or type id: a non-negative integer."""
        at = self.pos
        value = self.number()
        if isinstance(value, float):
            if not value.is_integer():
                raise self.fail(f"{what} {value!r} is not an integer", at)
            value = int(value)
        if value < 0:
            raise self.fail(f"{what} {value} is negative", at)
        return value

    def string(self) -> str:
        at = self.pos
        p = self.byte()
        if 0xA0 <= p <= 0xBF:
            n = p & 0x1F
        elif p == 0xD9:
            n = self.data[self._take(1)]
        elif p == 0xDA:
            n = _U16(self.data, self._take(2))[0]
        elif p == 0xDB:
            n = _U32(self.data, self._take(4))[0]
        else:
            raise self.fail(f"invalid string prefix 0x{p:02x}", at)
        start = self._take(n)
        try:
            return self.data[start:start + n].decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail("invalid UTF-8 in string", start) from None

    def primitive(self, code: int) -> Any:
        if code == STRING:
            return self.string()
        if code == NUMBER:
            return self.number()
        if code == BOOLEAN:
            return self.byte() > 0
        reader, size = _FIXED[code]
        number: int | float = reader(self.data, self._take(size))[0]
        return number
