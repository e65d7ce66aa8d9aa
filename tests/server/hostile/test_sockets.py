"""Hostile room sockets: joins never acknowledged, dead peers that fake liveness, clients
that do not read."""
from __future__ import annotations

import asyncio
import os
import time


from pyseus import protocol
from tests.server.hostile.conftest import allocated_blocks, bystander, endpoint, eventually, timed_join
from tests.server.raw import claim_without_reading, client_frame, open_socket, reserve

ON_TIME = 0.4
FAST_JOIN = 0.5


async def _unacknowledged(server, room_id: str | None = None):
    seat = await reserve(endpoint(server), "joinById" if room_id else "joinOrCreate", room_id or "game")
    path = f"/{seat['room']['processId']}/{seat['room']['roomId']}"
    sock = await open_socket(endpoint(server), path, sessionId=seat["sessionId"])
    await sock.next(protocol.JoinRoom)            # ... and never acknowledged
    return sock


async def test_a_join_that_is_never_acknowledged_is_dropped(arena) -> None:
    server = await arena(join_ack_timeout=1.0)
    watch = await bystander(server, "10.0.0.1")
    engine = server.matchmaker.engines[watch.room.room_id]
    start = time.monotonic()
    silent = [await _unacknowledged(server, watch.room.room_id) for _ in range(20)]
    assert len(engine.clients) == 21
    codes = await asyncio.gather(*(sock.closed(3.0) for sock in silent))
    assert codes == [4002] * 20 and time.monotonic() - start < 2.5
    assert silent[0].close_reason == "join not acknowledged"
    await eventually(lambda: len(engine.clients) == 1)
    assert watch.largest_gap(start) < ON_TIME
    for sock in silent:
        await sock.session.close()


async def test_what_waits_for_a_joining_client_is_bounded(arena) -> None:
    server = await arena(join_ack_timeout=30, join_queue_bytes=64 * 1024)
    watch = await bystander(server, "10.0.0.1")
    before = allocated_blocks()
    silent = await _unacknowledged(server, watch.room.room_id)
    start = time.monotonic()
    for _ in range(40):                 # 3 KB chat messages, relayed to the silent one too
        watch.room.send("chat", "x" * 3_000)
        await asyncio.sleep(0.005)
    assert await silent.closed(3.0) == 4002 and time.monotonic() - start < 2.0
    assert silent.close_reason == "too much data waiting for the join"
    assert not watch.closed
    await silent.session.close()
    assert allocated_blocks() - before < 20_000


async def test_a_peer_that_only_sends_pongs_is_dropped(arena) -> None:
    server = await arena(server_options={"ping_interval": 0.3, "ping_max_retries": 2})
    seat = await reserve(endpoint(server), "joinOrCreate", "game")
    path = f"/{seat['room']['processId']}/{seat['room']['roomId']}"
    dead = await open_socket(endpoint(server), path, autoping=False, sessionId=seat["sessionId"])
    alive = await open_socket(endpoint(server), path, sessionId=(
        await reserve(endpoint(server), "joinById", seat["room"]["roomId"]))["sessionId"])
    for sock in (dead, alive):
        await sock.next(protocol.JoinRoom)
        await sock.send(protocol.join_ack())
    start = time.monotonic()

    async def fake_liveness() -> None:      # unsolicited PONGs, never an answer to a PING
        while not dead.ws.closed:
            await dead.ws.pong(b"")
            await dead.ws.pong(os.urandom(8))
            await asyncio.sleep(0.1)
    faking = asyncio.ensure_future(fake_liveness())
    assert await dead.closed(3.0) == 1006
    assert time.monotonic() - start < 1.5
    faking.cancel()
    await asyncio.sleep(0.5)
    assert alive.close_code is None            # it answers the pings: still there
    await alive.close()
    await dead.session.close()


async def test_non_reading_clients_are_dropped_when_all_buffers_together_are_too_large(arena, caplog) -> None:
    server = await arena(send_buffer_bytes=64 * 1024 * 1024, total_send_buffer_bytes=3 * 1024 * 1024)
    watch = await bystander(server, "10.0.0.1")
    room_id = watch.room.room_id
    engine = server.matchmaker.engines[room_id]
    peers = [await claim_without_reading(server.port, await reserve(endpoint(server), "joinById", room_id),
                                         rcvbuf=4096) for _ in range(3)]
    await eventually(lambda: len(engine.clients) == 4)
    start = time.monotonic()
    for _ in range(80):                       # each asks for 200 KB blobs it never reads
        for _, writer in peers:
            if not writer.is_closing():
                writer.write(client_frame(protocol.room_data("size", 200_000)))
        await asyncio.sleep(0.02)
        if len(engine.clients) < 4:
            break
    await eventually(lambda: len(engine.clients) < 4, timeout=5)
    assert "total_send_buffer_bytes" in caplog.text
    join_time = await timed_join(server, "10.0.0.3")
    assert not watch.closed and watch.largest_gap(start) < ON_TIME and join_time < FAST_JOIN
    unsent = sum(c.buffered for c in server.transport._sockets.values())
    assert unsent <= 3 * 1024 * 1024 + 200_000 * 2
    for _, writer in peers:
        writer.close()
