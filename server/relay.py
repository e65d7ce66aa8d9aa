"""RelayRoom: a room for games whose logic runs on the clients.

Every message, whatever its type, goes to every other client as
``[senderSessionId, message]`` under the same type. The state lists the
players: ``players[sessionId] = {connected, name, sessionId}``.

Create options: ``maxClients``, ``allowReconnectionTime`` (seconds, at most
40; 0, the default, keeps players in the state when they leave, as Colyseus
does), ``metadata``. Join option: ``name``. With a reconnection time, a player
who drops is ``connected = False`` until it comes back (or is removed when the
time is up); one who leaves on purpose is removed at once.
"""
from __future__ import annotations

from typing import Any

from pyseus.schema import MapSchema, Schema, boolean, field, string

from .client import Client
from .errors import ReconnectionRejected
from .room import Room

__all__ = ["RelayRoom", "RelayState", "RelayPlayer"]

MAX_RECONNECTION_TIME = 40


class RelayPlayer(Schema):
    connected: boolean | None = None
    name: string | None = None
    session_id: string | None = field(default=None, wire_name="sessionId")


class RelayState(Schema):
    players: MapSchema[RelayPlayer] = field(default_factory=MapSchema)


class RelayRoom(Room[RelayState]):
    """The relay (see the module documentation)."""

    allow_reconnection_time: float = 0

    def on_create(self, options: dict[str, Any]) -> None:
        self.set_state(RelayState())
        max_clients = options.get("maxClients")
        if isinstance(max_clients, int) and not isinstance(max_clients, bool) and max_clients > 0:
            self.max_clients = max_clients
        seconds = options.get("allowReconnectionTime")
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds > 0:
            self.allow_reconnection_time = min(float(seconds), MAX_RECONNECTION_TIME)
        if isinstance(options.get("metadata"), dict):
            self.set_metadata(options["metadata"])
        self.on_message("*", self._relay)

    def _relay(self, client: Client, type: Any, message: Any) -> None:
        self.broadcast(type, [client.session_id, message], except_=client)

    def on_join(self, client: Client, options: dict[str, Any], auth: Any = None) -> None:
        player = RelayPlayer(connected=True, session_id=client.session_id)
        name = (options or {}).get("name")
        if isinstance(name, str):
            player.name = name
        self.state.players[client.session_id] = player

    async def on_leave(self, client: Client, consented: bool) -> None:
        if self.allow_reconnection_time <= 0:
            return                      # (players stay, as in Colyseus)
        player = self.state.players.get(client.session_id)
        if player is None:
            return
        player.connected = False
        if consented:
            del self.state.players[client.session_id]
            return
        try:
            await self.allow_reconnection(client, self.allow_reconnection_time)
        except ReconnectionRejected:
            self.state.players.pop(client.session_id, None)
        else:
            player.connected = True
