"""The room the client tests play against on our server (the same behaviour as
the room of node_server.mjs)."""
from __future__ import annotations

from typing import Any

from pyseus.schema import ArraySchema, MapSchema, Schema, float32, string, uint8, uint32
from pyseus.protocol import CloseCode
from pyseus.server import Client, ReconnectionRejected, Request, RequestRejected, Room, ServerError


class Player(Schema):
    name: string = ""
    x: float32 = 0.0
    y: float32 = 0.0
    hp: uint8 = 100


class World(Schema):
    players: MapSchema[Player]
    log: ArraySchema[string]
    tick: uint32 = 0


class Game(Room[World]):
    def on_create(self, options: dict[str, Any]) -> None:
        self.set_state(World())
        self.set_metadata({"mode": options.get("mode", "default")})
        if options.get("max"):
            self.max_clients = options["max"]
        self.set_simulation_interval(self.step, 50)
        self.on_message("move", self.move)
        self.on_message("echo", lambda c, m: c.send("echo", m))
        self.on_message(7, lambda c, m: c.send(7, m))
        self.on_message("bytes", lambda c, m: c.send_bytes("bytes", m))
        self.on_message("nopayload", lambda c, m: c.send("nopayload", {"was_none": m is None}))
        self.on_message("error", lambda c, m: c.error(4999, "custom error"))
        self.on_message("kick", lambda c, code: c.leave(code))
        self.on_message("log", lambda c, text: self.state.log.append(text))
        self.on_message("drop-me", lambda c, m: c.connection.close(CloseCode.GOING_AWAY))   # (a 1001 drop)
        self.on_message("ask", lambda c, m: {"answer": m})
        self.on_message("boom", self.boom)
        self.on_message("refuse", self.refuse)
        self.on_message("*", lambda c, t, m: c.send("wildcard", {"type": t, "message": m}))

    def boom(self, client: Client, message: Any) -> None:
        raise ServerError(4321, "boom")

    def refuse(self, client: Client, message: Any) -> None:
        raise RequestRejected({"why": "no"})

    def step(self, delta: float) -> None:
        self.state.tick += 1

    def move(self, client: Client, message: Any) -> None:
        player = self.state.players[client.session_id]
        player.x, player.y = message["x"], message["y"]

    def on_auth(self, client: Client, options: dict[str, Any], request: Request) -> Any:
        if options.get("reject"):
            raise ServerError(4444, "rejected by on_auth")
        if options.get("falsy"):
            return False
        return {"token": request.token}

    def on_join(self, client: Client, options: dict[str, Any], auth: Any = None) -> None:
        if options.get("fail_join"):
            raise RuntimeError("join failed")
        self.state.players[client.session_id] = Player(name=options.get("name", ""))
        client.send("welcome", {"sessionId": client.session_id, "auth": auth})

    async def on_leave(self, client: Client, consented: bool) -> None:
        if not consented:
            try:
                again = await self.allow_reconnection(client, 10)
                again.send("reconnected", {"sessionId": again.session_id})
                return
            except ReconnectionRejected:
                pass
        self.state.players.pop(client.session_id, None)


class Stateless(Room[Any]):
    def on_create(self, options: dict[str, Any]) -> None:
        self.on_message("echo", lambda c, m: c.send("echo", m))
