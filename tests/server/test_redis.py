"""RedisPresence and RedisDriver against a real redis-server (keys and JSON as Node writes them)."""
from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyseus.protocol import RoomListing
from pyseus.server.presence import PresenceError
from pyseus.server.redis import ROOMCACHES, RedisDriver, RedisPresence
from tests.redis_server import RedisServer


@pytest.fixture
async def presence(redis_server: RedisServer) -> AsyncIterator[RedisPresence]:
    redis_server.command("FLUSHALL")
    p = RedisPresence(redis_server.url)
    yield p
    await p.shutdown()


async def _eventually(check: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_keys_sets_hashes_and_lists(presence: RedisPresence, redis_server: RedisServer) -> None:
    await presence.set("k", "v")
    assert await presence.get("k") == "v" and await presence.exists("k")
    await presence.setex("t", "x", 0.2)
    assert await presence.get("t") == "x"
    await asyncio.sleep(0.4)
    assert await presence.get("t") is None
    assert await presence.set_if_absent("lock", "a", 5) and not await presence.set_if_absent("lock", "b", 5)
    assert await presence.get("lock") == "a"
    assert await presence.incr("n") == 1 and await presence.incr("n") == 2 and await presence.decr("n") == 1
    await presence.sadd("s", "a")
    await presence.sadd("s", "b")
    assert sorted(await presence.smembers("s")) == ["a", "b"] and await presence.scard("s") == 2
    assert await presence.sismember("s", "a")
    await presence.srem("s", "a")
    assert await presence.smembers("s") == ["b"]
    await presence.hset("h", "f", "1")
    assert await presence.hincrby("h", "f", 2) == 3
    assert await presence.hincrbyex("ch:r", "", 1, 1.0) == 1
    assert int(redis_server.command("PTTL", "ch:r")[1:].split(b"\r")[0]) > 0
    assert await presence.hgetall("h") == {"f": "3"} and await presence.hlen("h") == 1
    assert await presence.hdel("h", "f") and not await presence.hdel("h", "f")
    assert await presence.rpush("l", "1", "2") == 2 and await presence.lpush("l", "0") == 3
    assert await presence.lpop("l") == "0" and await presence.rpop("l") == "2" and await presence.llen("l") == 1
    assert await presence.brpop("l", timeout=1) == ("l", "1")
    assert await presence.brpop("l", timeout=0.2) is None
    await presence.delete("k")
    assert not await presence.exists("k")


async def test_publish_is_json_that_other_processes_read(presence: RedisPresence, redis_server: RedisServer) -> None:
    other = RedisPresence(redis_server.url)
    got: list[Any] = []
    try:
        await other.subscribe("$room", got.append)
        assert "$room" in await presence.channels("$*")
        await presence.publish("$room", ["_reserveSeat", "abc", ["sid", {"mode": "x"}, None]])
        await presence.publish("$room", "60MKO9nuZ")
        await _eventually(lambda: asyncio.sleep(0, len(got) == 2))
        assert got == [["_reserveSeat", "abc", ["sid", {"mode": "x"}, None]], "60MKO9nuZ"]
        # what a Node process would publish (raw JSON text) arrives parsed; what is not JSON is dropped
        redis_server.command("PUBLISH", "$room", "not json")
        redis_server.command("PUBLISH", "$room", '[0,{"a":1}]')
        await _eventually(lambda: asyncio.sleep(0, len(got) == 3))
        assert got[2] == [0, {"a": 1}]
        await other.unsubscribe("$room")
        assert "$room" not in await presence.channels("$*")
    finally:
        await other.shutdown()


async def test_driver_writes_listings_as_node_does(redis_server: RedisServer) -> None:
    redis_server.command("FLUSHALL")
    driver = RedisDriver(redis_server.url)
    try:
        created = datetime.datetime(2026, 12, 7, 10, 0, 0, 123000, tzinfo=datetime.timezone.utc)
        listing = RoomListing("60MKO9nuZ", "r", "sQpLxOuLI", clients=1, max_clients=3, created_at=created,
                              metadata={"m": 1}, public_address="127.0.0.1:2637", filters={"mode": "x"})
        await driver.create(listing)
        raw = redis_server.command("HGET", ROOMCACHES, "60MKO9nuZ").split(b"\r\n")[1].decode()
        # compact, in Node's order, filters at top level (Node finds rooms by the text "name":"r")
        assert raw == ('{"clients":1,"locked":false,"private":false,"maxClients":3,"unlisted":false,'
                       '"createdAt":"2026-12-07T10:00:00.123Z","name":"r","processId":"sQpLxOuLI","mode":"x",'
                       '"publicAddress":"127.0.0.1:2637","metadata":{"m":1},"roomId":"60MKO9nuZ"}')
        unlimited = RoomListing("other", "r2", "P2")
        await driver.create(unlimited)
        assert json.loads(redis_server.command("HGET", ROOMCACHES, "other").split(b"\r\n")[1])["maxClients"] is None
        found = await driver.query({"name": "r", "mode": "x"})
        assert [x.to_json() for x in found] == [listing.to_json()]
        assert await driver.query({"name": "r", "mode": "y"}) == []
        assert [x.room_id for x in await driver.query({"roomId": "other"})] == ["other"]
        # a listing written by someone else with a field we do not know: a filter value
        redis_server.command("HSET", ROOMCACHES, "node1", json.dumps(
            {"clients": 0, "locked": False, "private": False, "maxClients": None, "unlisted": False,
             "createdAt": "2026-12-07T10:00:01.000Z", "name": "r", "processId": "N", "level": 3,
             "roomId": "node1"}, separators=(",", ":")))
        redis_server.command("HSET", ROOMCACHES, "junk", "{not json")
        assert [x.room_id for x in await driver.query({"name": "r"})] == ["60MKO9nuZ", "node1"]
        assert (await driver.query({"level": 3}))[0].filters == {"level": 3}
        await driver.cleanup("sQpLxOuLI")
        assert sorted(x.room_id for x in await driver.query({})) == ["node1", "other"]
        await driver.remove("other")
        assert [x.room_id for x in await driver.query({})] == ["node1"]
    finally:
        await driver.shutdown()


async def test_an_unreachable_redis_raises_presence_error() -> None:
    from tests.redis_server import free_port
    url = f"redis://127.0.0.1:{free_port()}"
    presence, driver = RedisPresence(url), RedisDriver(url)
    try:
        with pytest.raises(PresenceError, match="unreachable"):
            await presence.get("k")
        with pytest.raises(PresenceError):
            await presence.publish("c", 1)
        with pytest.raises(PresenceError):
            await driver.query({"name": "r"})
    finally:
        await presence.shutdown()
        await driver.shutdown()


async def test_subscriptions_come_back_with_redis(redis_server: RedisServer) -> None:
    presence = RedisPresence(redis_server.url)
    got: list[Any] = []
    try:
        await presence.subscribe("c", got.append)
        redis_server.restart()
        # the reader resubscribes on its own once Redis answers again

        async def delivered() -> bool:
            try:
                await presence.publish("c", "again")
            except PresenceError:
                return False
            await asyncio.sleep(0.1)
            return "again" in got
        await _eventually(delivered, timeout=15)
    finally:
        await presence.shutdown()
