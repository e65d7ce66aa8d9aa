"""Demo rooms of ``python -m pyseus.server`` (and of the ``pyseus`` command).

* ``state_room``: a MapSchema of players; clients send ``move`` ({"x", "y"}),
  everyone sees the positions (patches at 20 Hz). Up to 16 players; a dropped
  connection may reconnect within 10 seconds.
* ``chat``: no state; ``message`` ({"text"}) is relayed to everyone as
  ``message`` ({"from", "text"}).
"""
from __future__ import annotations

import contextlib
from typing import Any

from pyseus.schema import MapSchema, Schema, field, float32, string, uint32

from .client import Client
from .errors import ReconnectionRejected
from .room import Room
from .server import Server


class Player(Schema):
    name: string = ""
    x: float32 = 0.0
    y: float32 = 0.0


class World(Schema):
    players: MapSchema[Player] = field(default_factory=MapSchema)
    tick: uint32 = 0


class StateRoom(Room[World]):
    max_clients = 16

    def on_create(self, options: dict[str, Any]) -> None:
        self.set_state(World())
        self.set_patch_rate(50)
        self.set_simulation_interval(self.update, 50)
        self.on_message("move", self.move)

    def update(self, delta_ms: float) -> None:
        self.state.tick += 1

    def move(self, client: Client, message: Any) -> None:
        player = self.state.players.get(client.session_id)
        if player is not None and isinstance(message, dict):
            x, y = message.get("x"), message.get("y")
            if isinstance(x, (int, float)) and isinstance(y, (int, float)):
                player.x, player.y = float(x), float(y)

    def on_join(self, client: Client, options: dict[str, Any], auth: Any = None) -> None:
        name = options.get("name")
        if not isinstance(name, str) or not name:
            name = client.session_id
        self.state.players[client.session_id] = Player(name=name[:32])

    async def on_leave(self, client: Client, consented: bool) -> None:
        if not consented:
            # a dropped connection keeps its player a while (until the wait is rejected)
            with contextlib.suppress(ReconnectionRejected):
                await self.allow_reconnection(client, 10)
                return
        self.state.players.pop(client.session_id, None)


class ChatRoom(Room[Any]):
    def on_create(self, options: dict[str, Any]) -> None:
        self.on_message("message", self.relay)

    def relay(self, client: Client, message: Any) -> None:
        text = message.get("text") if isinstance(message, dict) else None
        if isinstance(text, str):
            self.broadcast("message", {"from": client.session_id, "text": text[:500]})

    def on_join(self, client: Client, options: dict[str, Any], auth: Any = None) -> None:
        self.broadcast("message", {"from": "server", "text": f"{client.session_id} joined"}, except_=client)


def define_demo_rooms(server: Server) -> None:
    server.define("state_room", StateRoom)
    server.define("chat", ChatRoom)
