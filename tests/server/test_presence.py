"""The Presence interface, exercised on every implementation this package ships."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pyseus.server import LocalPresence, Presence


@pytest.fixture(params=[LocalPresence])
async def presence(request: Any) -> Any:
    p: Presence = request.param()
    yield p
    await p.shutdown()


async def test_keys_and_expiry(presence: Presence) -> None:
    assert await presence.get("k") is None and not await presence.exists("k")
    await presence.set("k", {"a": 1})
    assert await presence.get("k") == {"a": 1} and await presence.exists("k")
    await presence.setex("short", "v", 0.05)
    await presence.set("long", "v")
    await presence.expire("long", 0.05)
    assert await presence.get("short") == "v"
    await asyncio.sleep(0.08)
    assert await presence.get("short") is None and not await presence.exists("long")
    await presence.delete("k")
    assert await presence.get("k") is None
    assert [await presence.incr("n"), await presence.incr("n"), await presence.decr("n")] == [1, 2, 1]


async def test_sets(presence: Presence) -> None:
    for v in ("a", "b", "a", "c"):
        await presence.sadd("s", v)
    await presence.sadd("t", "b")
    await presence.sadd("t", "c")
    assert sorted(await presence.smembers("s")) == ["a", "b", "c"]
    assert await presence.scard("s") == 3 and await presence.sismember("s", "a")
    assert sorted(await presence.sinter("s", "t")) == ["b", "c"]
    await presence.srem("s", "a")
    assert not await presence.sismember("s", "a") and await presence.scard("missing") == 0


async def test_hashes(presence: Presence) -> None:
    await presence.hset("h", "x", "1")
    assert await presence.hincrby("h", "n", 5) == 5 and await presence.hincrby("h", "n", -2) == 3
    assert await presence.hget("h", "x") == "1" and await presence.hlen("h") == 2
    assert await presence.hgetall("h") == {"x": "1", "n": 3}
    assert await presence.hdel("h", "x") is True and await presence.hdel("h", "x") is False
    assert await presence.hincrbyex("e", "n", 1, 0.05) == 1
    await asyncio.sleep(0.08)
    assert await presence.hgetall("e") == {}


async def test_wrong_kind_of_key_is_an_error(presence: Presence) -> None:
    await presence.hset("h", "x", 1)
    with pytest.raises(TypeError):
        await presence.sadd("h", 1)


async def test_lists_and_blocking_pop(presence: Presence) -> None:
    assert await presence.rpush("l", 1, 2) == 2 and await presence.lpush("l", 0) == 3
    assert await presence.llen("l") == 3
    assert await presence.lpop("l") == 0 and await presence.rpop("l") == 2
    assert await presence.brpop("l", timeout=0.05) == ("l", 1)
    assert await presence.brpop("l", "m", timeout=0.05) is None     # bounded wait

    async def push_later() -> None:
        await asyncio.sleep(0.02)
        await presence.rpush("m", "late")

    pusher = asyncio.ensure_future(push_later())
    assert await presence.brpop("l", "m", timeout=2) == ("m", "late")
    await pusher


async def test_publish_subscribe(presence: Presence) -> None:
    got: list[Any] = []

    async def async_sub(message: Any) -> None:
        got.append(("async", message))

    def failing(message: Any) -> None:
        raise RuntimeError("subscriber bug")

    await presence.subscribe("chat:1", got.append)
    await presence.subscribe("chat:1", failing)
    await presence.subscribe("chat:2", async_sub)
    assert sorted(await presence.channels("chat:*")) == ["chat:1", "chat:2"]
    await presence.publish("chat:1", {"m": 1})          # a failing subscriber does not stop the others
    await presence.publish("chat:2", "hi")
    await presence.publish("nobody", "lost")
    assert got == [{"m": 1}, ("async", "hi")]
    await presence.unsubscribe("chat:1", got.append)
    await presence.publish("chat:1", "again")
    assert got == [{"m": 1}, ("async", "hi")]
    await presence.unsubscribe("chat:1")
    await presence.unsubscribe("chat:2")
    assert await presence.channels() == []
