"""pyseus.testing: a live server on 127.0.0.1 for tests, and its pytest plugin.

``LiveServer`` starts a ``pyseus.server.Server`` on a free port and connects
``pyseus.client`` clients to its rooms; the ``start_server`` fixture of the
pytest plugin (loaded automatically once pyseus is installed) hands them out.
``free_port()`` finds a port for a server of your own.
"""
from .live import LiveServer, RoomSpec
from .ports import free_port

__all__ = ["LiveServer", "RoomSpec", "free_port"]
