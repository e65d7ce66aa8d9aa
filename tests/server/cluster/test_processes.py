"""Several Python server processes on one real Redis: matchmaking across them."""
from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from typing import Any

import pytest
from pyseus.client import Client, MatchMakeError

from .conftest import Cluster, eventually


async def where(room: Any) -> dict[str, Any]:
    room.send("where")
    return await room.wait_for_message("here")


async def test_creates_spread_and_seats_lead_to_the_hosting_process(cluster: Cluster) -> None:
    a, b = cluster.start("procA"), cluster.start("procB")
    redis = cluster.redis.client()
    assert sorted(redis.smembers("colyseus:nodes")) == [f"procA/127.0.0.1:{a.port}", f"procB/127.0.0.1:{b.port}"]
    async with Client(a.base) as client:
        first = await client.create("trio", {"mode": "x"})
        second = await client.create("trio", {"mode": "x"})      # A has a room now: B has fewer
        assert (await where(first))["processId"] == "procA"
        assert (await where(second))["processId"] == "procB"
        # the listings, as Node writes them, and the room counts
        listings = {k: json.loads(v) for k, v in redis.hgetall("roomcaches").items()}
        assert listings[second.room_id]["processId"] == "procB"
        assert listings[second.room_id]["publicAddress"] == f"127.0.0.1:{b.port}"
        assert listings[second.room_id]["mode"] == "x" and listings[second.room_id]["maxClients"] == 3
        await eventually(lambda: redis.hgetall("roomcount") == {"procA": "1,1", "procB": "1,1"},
                         what="room counts")


async def test_concurrent_join_or_create_never_overfills_and_creates_few_rooms(cluster: Cluster) -> None:
    processes = [cluster.start(f"proc{i}") for i in range(3)]
    clients = [Client(p.base) for p in processes]
    try:
        rooms = await asyncio.gather(*(clients[i % 3].join_or_create("trio", {"mode": "m"}) for i in range(30)))
        answers = await asyncio.gather(*(where(room) for room in rooms))
        per_room = Counter(a["roomId"] for a in answers)
        assert sorted(per_room.values()) == [3] * 10          # 10 rooms of 3, none overfilled
        hosts = {a["roomId"]: a["processId"] for a in answers}
        assert set(hosts.values()) == {"proc0", "proc1", "proc2"}   # spread over the processes
        listings = [json.loads(v) for v in cluster.redis.client().hgetall("roomcaches").values()]
        assert sorted(item["clients"] for item in listings) == [3] * 10
    finally:
        await asyncio.gather(*(c.close() for c in clients))


async def test_join_by_id_and_reconnect_through_another_process(cluster: Cluster) -> None:
    a, b = cluster.start("procA"), cluster.start("procB")
    async with Client(a.base) as at_a, Client(b.base) as at_b:
        host = await at_a.create("trio")
        assert (await where(host))["processId"] == "procA"
        guest = await at_b.join_by_id(host.room_id)
        assert (await where(guest))["processId"] == "procA" and (await where(guest))["clients"] == 2
        token = guest.reconnection_token
        await guest.leave(consented=False)          # dropped: the room waits for it (allow_reconnection)
        back = await at_b.reconnect(token)
        assert back.room_id == host.room_id and back.session_id == guest.session_id
        assert (await where(back))["processId"] == "procA"
        with pytest.raises(MatchMakeError, match='room "nosuchroom" not found'):
            await at_b.join_by_id("nosuchroom")


async def test_a_killed_process_is_removed_and_matchmaking_goes_on(cluster: Cluster) -> None:
    a, b = cluster.start("procA"), cluster.start("procB")
    redis = cluster.redis.client()
    async with Client(b.base) as at_b, Client(a.base) as at_a:
        on_b = await at_b.create("trio", {"mode": "k"})
        assert (await where(on_b))["processId"] == "procB"
        b.signal(signal.SIGKILL)
        b.wait()
        # B's room is still listed; joining it finds nobody answering, B is removed,
        # and the join goes to a room created on A
        room = await at_a.join_or_create("trio", {"mode": "k"})
        assert (await where(room))["processId"] == "procA"
        assert "procB" not in redis.hgetall("roomcount")
        assert all(json.loads(v)["processId"] != "procB" for v in redis.hgetall("roomcaches").values())
        assert not any(n.startswith("procB/") for n in redis.smembers("colyseus:nodes"))


async def test_a_process_that_starts_removes_the_dead_ones(cluster: Cluster) -> None:
    a = cluster.start("procA")
    async with Client(a.base) as client:
        await client.create("trio")
    a.signal(signal.SIGKILL)
    a.wait()
    redis = cluster.redis.client()
    assert "procA" in redis.hgetall("roomcount")
    cluster.start("procB")        # (asks procA whether it lives: no answer within 2 s)
    await eventually(lambda: "procA" not in redis.hgetall("roomcount") and redis.hlen("roomcaches") == 0,
                     what="procA to be removed")
    assert redis.hkeys("roomcount") == ["procB"]


async def test_graceful_shutdown_leaves_nothing_in_redis(cluster: Cluster) -> None:
    a, b = cluster.start("procA"), cluster.start("procB")
    async with Client(a.base) as client:
        await client.create("trio")
        await client.create("trio")
    a.signal(signal.SIGTERM)
    b.signal(signal.SIGTERM)
    assert a.wait() == 0 and b.wait() == 0
    redis = cluster.redis.client()
    assert redis.hlen("roomcount") == 0 and redis.hlen("roomcaches") == 0 and redis.scard("colyseus:nodes") == 0
    assert redis.keys("*") == []


async def test_rooms_outlive_a_redis_restart_and_matchmaking_comes_back(cluster: Cluster) -> None:
    a, b = cluster.start("procA"), cluster.start("procB")
    async with Client(a.base) as client:
        first = await client.create("trio")
        second = await client.create("trio")
        cluster.redis.stop()
        # the rooms go on without Redis; matchmaking says why it cannot work
        first.send("echo", {"n": 1})
        assert await first.wait_for_message("echo") == {"n": 1}
        second.send("echo", {"n": 2})
        assert await second.wait_for_message("echo") == {"n": 2}
        try:
            await asyncio.wait_for(client.create("trio"), 10)
            raise AssertionError("matchmaking worked without Redis")
        except MatchMakeError as e:
            assert "cannot be reached" in e.message
        cluster.redis.start()          # (empty: it kept nothing)
        redis = cluster.redis.client()

        def registered() -> bool:
            return (redis.hkeys("roomcount") and sorted(redis.hkeys("roomcount")) == ["procA", "procB"]
                    and redis.hlen("roomcaches") == 2)
        await eventually(registered, timeout=15, what="the processes to register again")
        third = await client.join_by_id(second.room_id)
        assert (await where(third))["roomId"] == second.room_id


async def test_a_lobby_sees_the_rooms_of_every_process(cluster: Cluster) -> None:
    a, b = cluster.start("procA"), cluster.start("procB")
    async with Client(a.base) as at_a, Client(b.base) as at_b:
        lobby = await at_a.join_or_create("lobby")
        assert await lobby.wait_for_message("rooms") == []
        added: list[Any] = []
        lobby.on_message("+", added.append)
        elsewhere = await at_b.create("trio", {"mode": "far"})        # (a tie: created on B)
        assert (await where(elsewhere))["processId"] == "procB"
        try:
            await eventually(lambda: any(item[0] == elsewhere.room_id and item[1]["clients"] == 1 for item in added),
                             timeout=20, what="the lobby on A to hear of the room on B")
        except AssertionError as e:
            raise AssertionError(f"{e}; the lobby got {added}\n--- A:\n{a.output()[-3000:]}\n--- B:\n"
                                 f"{b.output()[-3000:]}") from None
        listing = next(item[1] for item in added if item[0] == elsewhere.room_id)
        assert listing["processId"] == "procB" and listing["mode"] == "far"
        removed: list[Any] = []
        lobby.on_message("-", removed.append)
        await elsewhere.leave()
        await eventually(lambda: elsewhere.room_id in removed, what="the lobby to hear the room went")
