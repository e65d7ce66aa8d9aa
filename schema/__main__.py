"""``python -m pyseus.schema``: a short demo of tracking, encoding and decoding a state."""
from __future__ import annotations

from typing import Any

from pyseus.schema import Decoder, Encoder, MapSchema, Reflection, Schema, field, float32, string, uint8


class Player(Schema):
    x: float32 = 0.0
    y: float32 = 0.0
    name: string = ""
    hp: uint8 = 100


class State(Schema):
    players: MapSchema[Player] = field(default_factory=MapSchema)


def main() -> None:
    state = State()
    state.players["jake"] = Player(name="Jake", x=10, y=20)
    encoder = Encoder(state)

    handshake = Reflection.encode(state)        # what a client needs to build the classes
    full = encoder.encode_all()                 # what a joining client receives
    encoder.discard()
    print(f"handshake   {len(handshake):4d} bytes")
    print(f"full state  {len(full):4d} bytes  {full.hex(' ')}")

    client_state: Any = Reflection.decode(handshake)  # no class definitions needed
    client = Decoder(client_state)
    client.decode(full)
    client.callbacks.listen(client_state.players["jake"], "x", lambda v, prev: print(f"  client: x {prev} -> {v}"))

    state.players["jake"].x = 11.5
    state.players["snake"] = Player(name="Snake")
    patch = encoder.encode()
    print(f"patch       {len(patch):4d} bytes  {patch.hex(' ')}")
    client.decode(patch)
    print("client state:", client_state.to_json())


if __name__ == "__main__":
    main()
