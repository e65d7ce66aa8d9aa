"""The load-test room on our server: ``python -m bench.room_server --port P``.

Room "game" holds the standard workload (N NPC players, K % moved per tick,
bench/workload.py) stepped at HZ by the simulation interval, with patches at
the same rate; every client gets its own player (removed when it leaves) and
may move it with "input" {x, y, angle} messages. The twin for the Node
reference is bench/node/room_server.mjs. Settings come from the environment:
ROOM_SIZE (10), ROOM_N (100), ROOM_K (10), HZ (20).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.schema_workload import Player, SchemaWorkload, State  # noqa: E402
from bench.workload import player_fields  # noqa: E402
from pyseus.loop import event_loop_factory  # noqa: E402
from pyseus.server import Client, Room, Server  # noqa: E402

ROOM_SIZE = int(os.environ.get("ROOM_SIZE", 10))
ROOM_N = int(os.environ.get("ROOM_N", 100))
ROOM_K = float(os.environ.get("ROOM_K", 10))
HZ = float(os.environ.get("HZ", 20))


class GameRoom(Room[State]):
    serial = 1_000_000          # players of clients, after the workload's own serials

    def on_create(self, options: dict[str, Any]) -> None:
        self.max_clients = ROOM_SIZE
        self.workload = SchemaWorkload(ROOM_N, ROOM_K)
        self.set_state(self.workload.state)
        self.set_patch_rate(1000 / HZ)
        self.set_simulation_interval(lambda delta: self.workload.step(), 1000 / HZ)
        self.on_message("input", self.input)

    def input(self, client: Client, message: Any) -> None:
        player = self.state.players.get(client.session_id)
        if player is not None and isinstance(message, dict):
            player.x = float(message.get("x") or 0)
            player.y = float(message.get("y") or 0)
            player.angle = float(message.get("angle") or 0)

    def on_join(self, client: Client, options: dict[str, Any], auth: Any = None) -> None:
        GameRoom.serial += 1
        self.state.players[client.session_id] = Player(**player_fields(GameRoom.serial))

    def on_leave(self, client: Client, consented: bool) -> None:
        self.state.players.pop(client.session_id, None)


async def serve(port: int) -> None:
    server = Server()
    server.define("game", GameRoom)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await server.serve("127.0.0.1", port)
    print(json.dumps({"listening": server.port, "pid": os.getpid()}), flush=True)
    await stop.wait()
    await server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0: a free port (printed)")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="asyncio")
    args = parser.parse_args()
    with asyncio.Runner(loop_factory=event_loop_factory(args.loop)) as runner:
        runner.run(serve(args.port))


if __name__ == "__main__":
    main()
