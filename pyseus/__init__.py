"""pyseus: multiplayer state synchronisation for Python, wire-compatible with Colyseus.

``pyseus.schema`` (state and its wire format), ``pyseus.protocol`` (the room
protocol, sans I/O), ``pyseus.server`` (rooms and matchmaking),
``pyseus.client`` (the Python SDK) and ``pyseus.testing`` (pytest helpers).
"""
from .errors import PyseusError

__all__ = ["PyseusError", "__version__"]

__version__ = "0.1.0"
