"""pytest fixtures for testing rooms (registered through the ``pytest11`` entry point).

``start_server``: ``await start_server({"name": RoomClass, ...}, **Server options)``
returns a ``pyseus.testing.LiveServer`` listening on a free 127.0.0.1 port; it
is shut down, with its clients, when the test ends (inside the test's event
loop). Tests that use it are ``async def`` and need nothing else: the plugin
runs them on an event loop of their own unless pytest-asyncio already does
(``asyncio_mode = "auto"``, or the ``asyncio`` marker).
"""
from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Mapping
from typing import Any

import pytest

from .live import LiveServer, RoomSpec

__all__ = ["start_server", "ServerFactory"]

_FIXTURE = "start_server"
_SERVERS = pytest.StashKey["ServerFactory"]()       # the servers of one test, on its item


class ServerFactory:
    """What the ``start_server`` fixture gives: call it to start a server."""

    def __init__(self) -> None:
        self._servers: list[LiveServer] = []

    async def __call__(self, rooms: Mapping[str, RoomSpec] | None = None, **server_options: Any) -> LiveServer:
        live = await LiveServer.start(rooms, **server_options)
        self._servers.append(live)
        return live

    async def aclose(self) -> None:
        """Shut every server down (newest first), with its clients."""
        while self._servers:
            await self._servers.pop().shutdown()


@pytest.fixture(name=_FIXTURE)
def start_server(request: pytest.FixtureRequest) -> ServerFactory:
    """``await start_server({"name": RoomClass or (RoomClass, options)}, **Server options)``."""
    factory = ServerFactory()
    request.node.stash[_SERVERS] = factory
    return factory


def _uses_servers(item: pytest.Item) -> bool:
    return (isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj)
            and _FIXTURE in item.fixturenames)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The servers a test started are shut down at the end of the test itself, so
    # on its own event loop, whoever runs it.
    for item in items:
        if _uses_servers(item):
            assert isinstance(item, pytest.Function)
            item.obj = _closing_servers(item, item.obj)


def _closing_servers(item: pytest.Function, test: Any) -> Any:
    @functools.wraps(test)
    async def with_cleanup(*args: Any, **kwargs: Any) -> Any:
        try:
            return await test(*args, **kwargs)
        finally:
            factory = item.stash.get(_SERVERS, None)
            if factory is not None:
                await factory.aclose()
    return with_cleanup


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not _uses_servers(pyfuncitem) or type(pyfuncitem) is not pytest.Function \
            or pyfuncitem.get_closest_marker("asyncio") is not None:
        return None      # not ours, or pytest-asyncio runs it
    wanted = inspect.signature(pyfuncitem.obj).parameters
    kwargs = {name: value for name, value in pyfuncitem.funcargs.items() if name in wanted}
    with asyncio.Runner() as runner:
        runner.run(pyfuncitem.obj(**kwargs))
    return True
