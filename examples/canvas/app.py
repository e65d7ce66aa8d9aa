"""Players moving on a canvas: a room and the page that plays it.

From the repository root (after installing pyseus):

    pyseus serve examples.canvas.app:server --reload

then open http://localhost:2567/ in two browser windows and move with the
arrow keys or by clicking. The page uses colyseus.js 0.16 from a CDN.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from aiohttp import web

from pyseus.schema import MapSchema, Schema, field, string, uint16
from pyseus.server import Client, Room, Server

WIDTH, HEIGHT, STEP = 640, 400, 8
COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324"]


class Player(Schema):
    x: uint16 = 0
    y: uint16 = 0
    color: string = ""


class Field(Schema):
    players: MapSchema[Player] = field(default_factory=MapSchema)


class CanvasRoom(Room[Field]):
    max_clients = 8

    def on_create(self, options: dict[str, Any]) -> None:
        self.set_state(Field())
        self.on_message("move", self.move)
        self.on_message("goto", self.goto)

    def on_join(self, client: Client, options: dict[str, Any], auth: Any = None) -> None:
        used = {p.color for p in self.state.players.values()}
        color = next((c for c in COLORS if c not in used), random.choice(COLORS))
        self.state.players[client.session_id] = Player(x=random.randrange(20, WIDTH - 20),
                                                       y=random.randrange(20, HEIGHT - 20), color=color)

    def on_leave(self, client: Client, consented: bool) -> None:
        self.state.players.pop(client.session_id, None)

    def move(self, client: Client, message: Any) -> None:
        player = self.state.players.get(client.session_id)
        if player is None or not isinstance(message, dict):
            return
        dx, dy = message.get("dx", 0), message.get("dy", 0)
        if isinstance(dx, int) and isinstance(dy, int):
            self._place(player, player.x + max(-1, min(1, dx)) * STEP, player.y + max(-1, min(1, dy)) * STEP)

    def goto(self, client: Client, message: Any) -> None:
        player = self.state.players.get(client.session_id)
        if player is not None and isinstance(message, dict):
            x, y = message.get("x"), message.get("y")
            if isinstance(x, (int, float)) and isinstance(y, (int, float)):
                self._place(player, int(x), int(y))

    @staticmethod
    def _place(player: Player, x: int, y: int) -> None:
        player.x, player.y = max(0, min(WIDTH, x)), max(0, min(HEIGHT, y))


server = Server()
server.define("canvas", CanvasRoom)


async def _page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(Path(__file__).with_name("index.html"))

server.app.router.add_get("/", _page)
