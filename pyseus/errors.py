"""The root of every exception pyseus raises on purpose.

Each package defines its own family under it; catch ``PyseusError`` to handle
them all::

    PyseusError                                 pyseus.errors
    ├── SchemaError                             pyseus.schema: a class cannot be put on the wire
    ├── WireError                               pyseus.schema: bytes that cannot be written or read
    │   ├── EncodeError                         the encoder was used in a way it cannot encode
    │   └── DecodeError                         malformed, truncated or mismatched bytes (.offset)
    ├── ProtocolError (also a ValueError)       pyseus.protocol: a frame that breaks the room protocol
    │   └── MessagePackError                    a payload that is not (msgpackr-flavoured) MessagePack
    ├── ServerError                             pyseus.server: an error with a Colyseus code (.code)
    ├── RequestRejected                         pyseus.server: a handler rejects a client's request (.reason)
    ├── ReconnectionRejected                    pyseus.server: awaiting a rejected reconnection (.reason)
    └── ClientError                             pyseus.client
        ├── MatchMakeError                      the server refused (.code, .message)
        ├── RoomLeftError                       waiting on a room whose connection is closed (.code)
        └── RequestError                        a room.request() failed (.status, .name, .message, .code)

Invalid values are refused at assignment with the built-in ``TypeError`` /
``ValueError`` (and ``AttributeError`` for a field a class does not declare);
network failures raise the built-in ``ConnectionError`` / ``TimeoutError``.
"""
from __future__ import annotations

__all__ = ["PyseusError"]


class PyseusError(Exception):
    """Base class of the exceptions pyseus defines (the tree is in this module's doc)."""
