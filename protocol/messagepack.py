"""MessagePack as the Colyseus 0.16 clients speak it.

* ``unpack``: what clients send. colyseus.js packs with msgpackr's default
  options, which turn on "records": an object is written as a record definition
  (``d4 72 <id>``, a key list, then the values) and a later object with the same
  keys as the bare id byte (``0x40``-``0x7f``) followed by its values. Record ids
  start afresh in every message. Standard msgpack (the Unity SDK) is a subset.
  Also: ``d4 00 00`` is JS ``undefined`` (None) and the timestamp extension (-1)
  is a date (an aware ``datetime``). Other extensions are refused. Standard
  payloads go to the C ``msgpack``, the others to our compiled reader
  (``_unpacker``).
* ``pack``: what the server sends: plain msgpack. Integers outside the 32-bit
  range that a float64 holds exactly are sent as float64, as Node does, so JS
  clients get Numbers; Schema instances and collections are sent as their
  ``to_json()``.
"""
from __future__ import annotations

from typing import Any

import msgpack

from ._unpacker import MAX_DEPTH, read
from .errors import MessagePackError

__all__ = ["unpack", "pack", "MessagePackError"]


def unpack(data: bytes) -> Any:
    """Decode one message payload (the whole of ``data``)."""
    if data.__class__ is not bytes:
        data = bytes(data)
    # Standard msgpack (every client but colyseus.js, whose objects are records)
    # goes through the C unpacker; what it does not take as our reader would
    # (records, other extensions, errors of any kind, nesting past our limit) is
    # read again by ours, so results and errors are always ours. (colyseus.js:
    # straight to our reader; the one-byte test first costs a tenth of the
    # two-byte search, which most other payloads then skip)
    if 0xD4 not in data or _RECORD not in data:
        try:
            value = msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True, timestamp=3,
                                    ext_hook=_standard_ext)
        except Exception:
            return read(data)       # (which raises, or reads what C msgpack does not)
        if len(data) <= MAX_DEPTH or _depth_at_most(value, MAX_DEPTH):
            return value
    return read(data)


_RECORD = b"\xd4\x72"      # a record definition (fixext 1, type 0x72)


class _NotStandard(Exception):
    """An extension standard msgpack does not have (our reader takes the payload)."""


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
