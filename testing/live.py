"""A live server on 127.0.0.1 and clients connected to it, for testing rooms.

The pytest plugin (``pyseus.testing.pytest_plugin``, loaded automatically once
the package is installed) hands these out through the ``start_server`` fixture::

    async def test_move(start_server):
        live = await start_server({"arena": Arena})
        room = await live.create_room("arena")             # the server-side Room
        player = await live.connect_to(room, {"name": "Ann"})  # a client Room
        player.send("move", {"x": 1})
        client, message = await live.wait_for_message(room, "move")
        await player.wait_for_next_patch()
        assert player.state.players[player.session_id].x == 1

Every wait is bounded by a timeout (seconds).
"""
from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from pyseus.client import Client, Room
from pyseus.protocol import MessageType
from pyseus.server import Client as ServerClient
from pyseus.server import Room as ServerRoom
from pyseus.server import Server

__all__ = ["LiveServer", "RoomSpec"]

RoomSpec = type[ServerRoom[Any]] | tuple[type[ServerRoom[Any]], dict[str, Any]]


class LiveServer:
    """A ``Server`` listening on a free 127.0.0.1 port, with a client bound to it."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._clients: list[Client] = []
        self._sdk: Client | None = None

    @classmethod
    async def start(cls, rooms: Mapping[str, RoomSpec] | None = None, **server_options: Any) -> LiveServer:
        """Define ``rooms`` (``{name: RoomClass}`` or ``{name: (RoomClass, options)}``) on a new
        ``Server(**server_options)`` and start it."""
        server = Server(**server_options)
        for name, spec in (rooms or {}).items():
            room_class, options = spec if isinstance(spec, tuple) else (spec, {})
            server.define(name, room_class, **options)
        await server.serve("127.0.0.1", 0)
        return cls(server)

    @property
    def port(self) -> int:
        assert self.server.port is not None
        return self.server.port

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sdk(self) -> Client:
        """A client of this server (closed with it)."""
        if self._sdk is None:
            self._sdk = self.new_client()
        return self._sdk

    def new_client(self, **options: Any) -> Client:
        """Another client (``Client`` options: ``headers``, ``auth_token``...), closed with the server."""
        client = Client(self.endpoint, **options)
        self._clients.append(client)
        return client

    async def create_room(self, name: str, options: dict[str, Any] | None = None) -> ServerRoom[Any]:
        """Create a room directly (no client joins it)."""
        return await self.server.create_room(name, options)

    async def connect_to(self, room: ServerRoom[Any], options: dict[str, Any] | None = None, *,
                         state_cls: type[Any] | None = None, auth_token: str | None = None) -> Room[Any]:
        """Join ``room`` with a new connection (of ``sdk``, or of a new client carrying
        ``auth_token``); returns the client's Room once the server has sent the full state."""
        client = self.sdk if auth_token is None else self.new_client(auth_token=auth_token)
        joined = await client.join_by_id(room.room_id, options, state_cls=state_cls)
        if joined.serializer_id == "schema" and joined.stats.states == 0:
            await joined.wait_for_next_patch()
        return joined

    async def wait_for_message(self, room: ServerRoom[Any], type: MessageType,
                               timeout: float = 5.0) -> tuple[ServerClient, Any]:
        """Wait until ``room`` handles a message of ``type``; returns ``(client, message)``."""
        def match(client: ServerClient, t: MessageType, message: Any) -> tuple[ServerClient, Any] | None:
            return (client, message) if str(t) == str(type) else None
        result: tuple[ServerClient, Any] = await self._observe(room, "message", match, timeout)
        return result

    async def wait_for_next_patch(self, room: ServerRoom[Any], timeout: float = 5.0) -> bytes:
        """Wait until ``room`` sends its next patch; returns the patch bytes."""
        patch: bytes = await self._observe(room, "patch", lambda data: data, timeout)
        return patch

    async def wait_for_next_simulation_tick(self, room: ServerRoom[Any], timeout: float = 5.0) -> float:
        """Wait for the room's next simulation step; returns its delta (ms)."""
        delta: float = await self._observe(room, "tick", lambda d: d, timeout)
        return delta

    async def _observe(self, room: ServerRoom[Any], event: str, pick: Any, timeout: float) -> Any:
        found: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def observer(name: str, *args: Any) -> None:
            if name == event and not found.done():
                value = pick(*args)
                if value is not None:
                    found.set_result(value)

        remove = self.server.matchmaker.engines[room.room_id].observe(observer)
        try:
            async with asyncio.timeout(timeout):
                return await found
        finally:
            remove()

    async def shutdown(self, timeout: float = 15.0) -> None:
        """Close the clients, then shut the server down (awaiting every hook)."""
        for client in self._clients:
            await client.close()
        self._clients.clear()
        self._sdk = None
        async with asyncio.timeout(timeout):
            await self.server.shutdown()
