"""The standard workload's state as Schema classes (shared by bench.encode and
bench.room_server)."""
from __future__ import annotations

from typing import Any

from bench.workload import Workload
from pyseus.schema import MapSchema, Schema, field, float32, string, uint8, uint32


class Player(Schema):
    x: float32 = 0.0
    y: float32 = 0.0
    angle: float32 = 0.0
    hp: uint8 = 0
    name: string = ""
    score: uint32 = 0


class State(Schema):
    players: MapSchema[Player] = field(default_factory=MapSchema)
    tick: uint32 = 0


class SchemaWorkload(Workload):
    def make_state(self) -> Any:
        return State()

    def new_player(self, fields: dict[str, Any]) -> Any:
        return Player(**fields)

    def insert(self, key: str, player: Any) -> None:
        self.state.players[key] = player

    def remove(self, key: str) -> None:
        del self.state.players[key]

    def set_tick(self, t: int) -> None:
        self.state.tick = t
