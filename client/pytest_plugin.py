"""pytest fixtures for testing rooms (registered through the ``pytest11`` entry point).

``start_server``: ``await start_server({"name": RoomClass, ...}, **Server options)``
returns a ``client.testing.LiveServer`` listening on a free 127.0.0.1 port; it
is shut down, with its clients, when the test ends. The fixtures are asyncio
fixtures: they need pytest-asyncio (``asyncio_mode = "auto"``, or mark the
tests with ``@pytest.mark.asyncio``).
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import pytest

from .testing import LiveServer, RoomSpec

__all__ = ["start_server"]

StartServer = Callable[..., Awaitable[LiveServer]]

try:
    import pytest_asyncio
except ImportError:     # the plugin loads with any pytest; only its fixtures need pytest-asyncio
    pytest_asyncio = None  # type: ignore[assignment]


async def _start_server() -> AsyncIterator[StartServer]:
    servers: list[LiveServer] = []

    async def start(rooms: Mapping[str, RoomSpec] | None = None, **server_options: Any) -> LiveServer:
        live = await LiveServer.start(rooms, **server_options)
        servers.append(live)
        return live

    try:
        yield start
    finally:
        for live in reversed(servers):
            await live.shutdown()


if pytest_asyncio is not None:
    start_server = pytest_asyncio.fixture(_start_server, name="start_server")
else:
    @pytest.fixture(name="start_server")
    def start_server() -> None:
        pytest.fail("the start_server fixture needs pytest-asyncio (pip install pytest-asyncio)")
