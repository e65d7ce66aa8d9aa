"""The primitive codec of the @colyseus/schema wire format, for other protocols.

The Colyseus room protocol writes message types and error fields with the
schema's own number and string encodings (msgpack-like prefixes with
little-endian bodies); ``pyseus.protocol`` uses these helpers for that.

* ``encode_primitive(type_name, value)``: the bytes of one value of a primitive
  type (``"string"``, ``"number"``, ``"uint8"``...), checked like a field
  assignment (``TypeError`` / ``ValueError``).
* ``Reader(data, pos=0)``: a bounds-checked cursor with ``byte()``, ``peek()``,
  ``number()``, ``string()``, ``index()`` and ``primitive(code)``; every failure
  is a ``DecodeError`` with the offset.
* ``Operation``, ``Marker``, ``TypeCode``: the wire constants.
"""
from __future__ import annotations

from typing import Any

from ._buffer import pack_primitive
from ._fieldtype import primitive
from ._reader import Reader
from ._spec import Marker, Operation, TypeCode

__all__ = ["encode_primitive", "Reader", "Operation", "Marker", "TypeCode"]


def encode_primitive(type_name: str, value: Any) -> bytes:
    """The wire bytes of ``value`` as the primitive type ``type_name``."""
    field_type = primitive(type_name)
    return pack_primitive(field_type.code, field_type.validate(value, type_name))
