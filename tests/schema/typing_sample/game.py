# Checked by mypy in tests/schema/test_typing.py: how the public API looks to a type checker.
from pyseus.schema import ArraySchema, Encoder, MapSchema, Schema, field, float32, string, uint8


class Player(Schema):
    x: float32 = 0.0
    name: string = ""
    hp: uint8 = 100


class State(Schema):
    players: MapSchema[Player] = field(default_factory=MapSchema)
    log: ArraySchema[string] = field(default_factory=ArraySchema)


state = State()
player = Player(x=1.5, name="a")
state.players["a"] = player
state.log.append("joined")
encoder = Encoder(state)
patch: bytes = encoder.encode()
reveal_type(player.x)
reveal_type(player.hp)
reveal_type(state.players["a"])
reveal_type(state.log[0])
reveal_type(encoder.encode_all())
Player(x="bad")
