"""A soak run: 300 clients join, play, drop, reconnect and leave, in waves. Nothing may be
left behind (rooms, seats, tasks, timers, connections) and memory must not grow wave
after wave."""
from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from pyseus.client import Client
from tests.server.hostile.conftest import Game, allocated_blocks, endpoint, eventually

CLIENTS = 300
WAVES = 4
PLAY_SECONDS = 6.0          # past the client's min_uptime, so that a dropped client reconnects


class Soak(Game):
    max_clients = 10

    def on_drop(self, client: Any, code: int) -> None:
        self.allow_reconnection(client, 2)


_addresses = itertools.count()


async def _player(server: Any, index: int) -> tuple[Client, Any]:
    n = next(_addresses)
    client = Client(endpoint(server), headers={"X-Forwarded-For": f"10.{n // 60000}.{n // 250 % 240}.{n % 250}"})
    room = await client.join_or_create("soak", {"player": index})
    return client, room


async def _play(room: Any, until: float) -> None:
    i = 0
    while time.monotonic() < until and room.connected:
        room.send("spam", i)
        i += 1
        await asyncio.sleep(0.1)


async def _part(index: int, client: Client, room: Any) -> None:
    kind = index % 3
    if kind == 0:
        await room.leave()                         # consented
    elif kind == 1:
        await room.leave(consented=False)          # a drop: its seat is held 2 s, then on_leave
    else:
        room._ws.abort()     # the network goes away: it reconnects
        await eventually(lambda: room.connected and room._rejoined is None, timeout=10)
        await room.leave()
    await client.close()


async def _wave(server: Any) -> None:
    limit = asyncio.Semaphore(50)

    async def join(i: int) -> tuple[Client, Any]:
        async with limit:
            return await _player(server, i)
    players = await asyncio.gather(*(join(i) for i in range(CLIENTS)))
    until = time.monotonic() + PLAY_SECONDS
    await asyncio.gather(*(_play(room, until) for _, room in players))
    assert all(room.connected for _, room in players)
    await asyncio.gather(*(_part(i, client, room) for i, (client, room) in enumerate(players)))


async def test_waves_of_300_clients_leave_nothing_behind(arena) -> None:
    server = await arena()
    server.define("soak", Soak)
    loop = asyncio.get_running_loop()
    baseline_tasks = len(asyncio.all_tasks())
    baseline_connections = server.transport.connections
    memory: list[int] = []
    for wave in range(WAVES):
        start = time.monotonic()
        await _wave(server)
        await eventually(lambda: not server.matchmaker.engines, timeout=10)
        await eventually(lambda: server.transport.connections == baseline_connections, timeout=10)
        await eventually(lambda: len(asyncio.all_tasks()) <= baseline_tasks, timeout=10)
        memory.append(allocated_blocks())
        print(f"wave {wave + 1}: {CLIENTS} clients in {time.monotonic() - start:.1f} s; "
              f"{memory[-1]} blocks allocated; {len(server.transport.rate)} addresses remembered")
    assert server.matchmaker._create_locks == {} and server.matchmaker._room_counts == {}
    # timers: the server's own periodic ones only (its buffer watcher), not one per client or seat
    pending = [h for h in getattr(loop, "_scheduled", []) if not h.cancelled()]
    assert len(pending) < 10, pending
    # memory: the first wave warms caches up; the later ones must not keep anything
    growth = memory[-1] - memory[0]
    assert growth < 0.02 * memory[0], memory
