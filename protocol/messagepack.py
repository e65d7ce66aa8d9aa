"""MessagePack as the Colyseus 0.16 clients speak it.

* ``unpack``: what clients send. colyseus.js packs with msgpackr's default
  options, which turn on "records": an object is written as a record definition
  (``d4 72 <id>``, a key list, then the values) and a later object with the same
  keys as the bare id byte (``0x40``-``0x7f``) followed by its values. Record ids
  start afresh in every message. Standard msgpack (the Unity SDK) is a subset.
  Also: ``d4 00 00`` is JS ``undefined`` (None) and the timestamp extension (-1)
  is a date (an aware ``datetime``). Other extensions are refused.
* ``pack``: what the server sends: plain msgpack. Integers outside the 32-bit
  range that a float64 holds exactly are sent as float64, as Node does, so JS
  clients get Numbers; Schema instances and collections are sent as their
  ``to_json()``.
"""
from __future__ import annotations

import datetime
import struct
from typing import Any

import msgpack

from .errors import MessagePackError

__all__ = ["unpack", "pack", "MessagePackError"]

_MAX_DEPTH = 64
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

_BE = {1: struct.Struct(">B"), 2: struct.Struct(">H"), 4: struct.Struct(">I"), 8: struct.Struct(">Q")}
_BE_SIGNED = {1: struct.Struct(">b"), 2: struct.Struct(">h"), 4: struct.Struct(">i"), 8: struct.Struct(">q")}
_F32 = struct.Struct(">f")
_F64 = struct.Struct(">d")


class _Unpacker:
    __slots__ = ("data", "pos", "records")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.records: dict[int, list[Any]] = {}

    def take(self, n: int) -> int:
        pos = self.pos
        if n < 0 or pos + n > len(self.data):
            raise MessagePackError(f"truncated at byte {pos} (needed {n} more)")
        self.pos = pos + n
        return pos

    def uint(self, n: int) -> int:
        value: int = _BE[n].unpack_from(self.data, self.take(n))[0]
        return value

    def value(self, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise MessagePackError("nesting too deep")
        b = self.data[self.take(1)]
        if b <= 0x7F:
            if b >= 0x40:
                keys = self.records.get(b & 0x3F)
                if keys is not None:
                    return self.record(keys, depth)
            return b
        if b >= 0xE0:
            return b - 0x100
        if b <= 0x8F:
            return self.map(b & 0x0F, depth)
        if b <= 0x9F:
            return self.array(b & 0x0F, depth)
        if b <= 0xBF:
            return self.str(b & 0x1F)
        if b == 0xC0:
            return None
        if b == 0xC2:
            return False
        if b == 0xC3:
            return True
        if 0xC4 <= b <= 0xC6:
            n = self.uint(1 << (b - 0xC4))
            start = self.take(n)
            return self.data[start:start + n]
        if 0xC7 <= b <= 0xC9:
            n = self.uint(1 << (b - 0xC7))
            ext = _BE_SIGNED[1].unpack_from(self.data, self.take(1))[0]
            return self.ext(ext, n, depth)
        if b == 0xCA:
            return _F32.unpack_from(self.data, self.take(4))[0]
        if b == 0xCB:
            return _F64.unpack_from(self.data, self.take(8))[0]
        if 0xCC <= b <= 0xCF:
            return self.uint(1 << (b - 0xCC))
        if 0xD0 <= b <= 0xD3:
            n = 1 << (b - 0xD0)
            return _BE_SIGNED[n].unpack_from(self.data, self.take(n))[0]
        if 0xD4 <= b <= 0xD8:
            n = 1 << (b - 0xD4)
            ext = _BE_SIGNED[1].unpack_from(self.data, self.take(1))[0]
            return self.ext(ext, n, depth)
        if 0xD9 <= b <= 0xDB:
            return self.str(self.uint(1 << (b - 0xD9)))
        if b == 0xDC or b == 0xDD:
            return self.array(self.uint(2 if b == 0xDC else 4), depth)
        if b == 0xDE or b == 0xDF:
            return self.map(self.uint(2 if b == 0xDE else 4), depth)
        raise MessagePackError(f"invalid byte 0x{b:02x} at {self.pos - 1}")

    def str(self, n: int) -> str:
        start = self.take(n)
        try:
            return self.data[start:start + n].decode("utf-8")
        except UnicodeDecodeError:
            raise MessagePackError(f"invalid UTF-8 at byte {start}") from None

    def array(self, n: int, depth: int) -> list[Any]:
        if n > len(self.data) - self.pos:
            raise MessagePackError("array longer than the data")
        return [self.value(depth + 1) for _ in range(n)]

    def map(self, n: int, depth: int) -> dict[Any, Any]:
        if n > len(self.data) - self.pos:
            raise MessagePackError("map longer than the data")
        out = {}
        for _ in range(n):
            key = self.value(depth + 1)
            try:
                out[key] = self.value(depth + 1)
            except TypeError:
                raise MessagePackError(f"unusable map key {key!r}") from None
        return out

    def record(self, keys: list[Any], depth: int) -> dict[Any, Any]:
        return {key: self.value(depth + 1) for key in keys}

    def ext(self, ext: int, n: int, depth: int) -> Any:
        start = self.take(n)
        body = self.data[start:start + n]
        if ext == 0x72 and n == 1:
            # a record definition: the id, then the key list, then the values
            slot = body[0] & 0x3F
            keys = self.value(depth + 1)
            if not isinstance(keys, list) or not all(isinstance(k, (str, int)) for k in keys):
                raise MessagePackError("a record definition needs a list of keys")
            self.records[slot] = keys
            return self.record(keys, depth)
        if ext == 0 and n == 1:
            return None    # JS undefined
        if ext == -1:
            return _timestamp(body)
        raise MessagePackError(f"unsupported MessagePack extension type {ext}")


def _timestamp(body: bytes) -> datetime.datetime:
    if len(body) == 4:
        seconds, nanos = struct.unpack(">I", body)[0], 0
    elif len(body) == 8:
        value = struct.unpack(">Q", body)[0]
        seconds, nanos = value & 0x3FFFFFFFF, value >> 34
    elif len(body) == 12:
        nanos, seconds = struct.unpack(">Iq", body)
    else:
        raise MessagePackError("invalid timestamp extension")
    try:
        return _EPOCH + datetime.timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError:
        raise MessagePackError("timestamp out of range") from None


def unpack(data: bytes) -> Any:
    """Decode one message payload (the whole of ``data``)."""
    if data.__class__ is not bytes:
        data = bytes(data)
    value = _read_standard(data)
    if value is not _NOT_STANDARD:
        return value
    u = _Unpacker(data)
    value = u.value()
    if u.pos != len(u.data):
        raise MessagePackError(f"{len(u.data) - u.pos} bytes after the value")
    return value


_RECORD = b"\xd4\x72"      # a record definition (fixext 1, type 0x72)
_NOT_STANDARD: Any = object()


class _NotStandard(Exception):
    """An extension standard msgpack does not have (our reader takes the payload)."""


def _read_standard(data: bytes) -> Any:
    # Standard msgpack (every client but colyseus.js, whose objects are records)
    # goes through the C unpacker; anything it does not take as our reader would
    # (records, other extensions, errors of any kind, nesting past our limit) is
    # _NOT_STANDARD and read again by ours, so results and errors are always ours.
    # (colyseus.js: straight to our reader; the one-byte test first costs a
    # tenth of the two-byte search, which most other payloads then skip)
    if 0xD4 in data and _RECORD in data:
        return _NOT_STANDARD
    try:
        value = msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True, timestamp=3,
                                ext_hook=_standard_ext)
    except Exception:
        return _NOT_STANDARD
    if len(data) <= _MAX_DEPTH or _depth_at_most(value, _MAX_DEPTH):
        return value
    return _NOT_STANDARD


def _standard_ext(code: int, data: bytes) -> Any:
    if code == 0 and len(data) == 1:
        return None         # JS undefined (a record definition, 0x72, is not standard)
    raise _NotStandard(code)


def _depth_at_most(value: Any, limit: int) -> bool:
    # (a payload of at most `limit` bytes cannot nest deeper: only longer ones are walked)
    if limit < 0:
        return False
    if type(value) is list:
        return all(_depth_at_most(v, limit - 1) for v in value)
    if type(value) is dict:
        return all(_depth_at_most(k, limit - 1) and _depth_at_most(v, limit - 1) for k, v in value.items())
    return True


# ---------------------------------------------------------------- packing

_JS_INT_MIN, _JS_INT_MAX = -(2**31), 2**32 - 1


def _for_js(value: Any) -> Any:
    """Ints beyond 32 bits become floats when a float64 holds them exactly."""
    t = type(value)
    if t is int:
        if (value < _JS_INT_MIN or value > _JS_INT_MAX) and float(value) == value:
            return float(value)
        return value
    if t is dict:
        return {k: _for_js(v) for k, v in value.items()}
    if t is list or t is tuple:
        return [_for_js(v) for v in value]
    return value


def _default(obj: Any) -> Any:
    to_json = getattr(obj, "to_json", None)
    if to_json is not None:
        return _for_js(to_json())
    if isinstance(obj, (set, frozenset)):
        return _for_js(list(obj))
    if isinstance(obj, (bytearray, memoryview)):
        return bytes(obj)
    raise TypeError(f"cannot send a {type(obj).__name__} in a message")


def pack(value: Any) -> bytes:
    """Encode a message payload as plain MessagePack."""
    packed: bytes = msgpack.packb(_for_js(value), default=_default, use_bin_type=True, datetime=True)
    return packed
