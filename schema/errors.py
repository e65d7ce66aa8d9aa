"""Exceptions raised by the schema package (see ``pyseus.errors`` for the whole tree).

``SchemaError`` is raised when a class definition cannot be put on the wire (too
many fields, an unsupported annotation, a collection nested directly inside
another). ``EncodeError`` and ``DecodeError`` share the ``WireError`` base so that
code which handles bytes can catch both. Invalid values are refused at
assignment with the built-in ``TypeError`` / ``ValueError``.
"""
from __future__ import annotations

from pyseus.errors import PyseusError

__all__ = ["SchemaError", "WireError", "EncodeError", "DecodeError"]


class SchemaError(PyseusError):
    """A Schema class or collection type cannot be described on the wire."""


class WireError(PyseusError):
    """Base class of the errors about bytes on the wire."""


class EncodeError(WireError):
    """The encoder was used in a way it cannot turn into bytes."""


class DecodeError(WireError):
    """The bytes given to a decoder are malformed, truncated or do not match the state.

    ``offset`` is the position in the input where the problem was found.
    """

    def __init__(self, message: str, offset: int | None = None) -> None:
        if offset is not None:
            message = f"{message} (at byte {offset})"
        super().__init__(message)
        self.offset = offset
