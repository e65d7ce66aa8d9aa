"""Presence and listings on a shared Redis: several processes, one game.

``RedisPresence`` and ``RedisDriver`` keep what ``LocalPresence`` and
``LocalDriver`` keep in memory in a Redis that every process of a deployment
shares, under the keys, channels and JSON that Colyseus 0.16 uses (so Python
and Node processes can share one Redis):

* published messages are compact JSON, parsed again by subscribers;
* listings live in the ``roomcaches`` hash, one compact JSON object per room
  (``RoomListing.to_json()``), rewritten whole on every change.

Both use redis-py's asyncio client. Presence holds two connections, as Node's
does: one for commands and one subscribed to channels. A Redis that goes away
makes the calls raise ``PresenceError``; redis-py reconnects by itself once it
is back (the matchmaker re-registers its process then).
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from pyseus._callbacks import invoke
from pyseus.protocol import ProtocolError, RoomListing

from .driver import Driver, matches, sort_listings
from .presence import Presence, PresenceError, Subscriber

__all__ = ["RedisPresence", "RedisDriver", "DEFAULT_URL", "ROOMCACHES"]

log = logging.getLogger("pyseus.server.redis")

DEFAULT_URL = "redis://127.0.0.1:6379"
ROOMCACHES = "roomcaches"           # (Node's RedisDriver's hash)
_RETRY_PAUSE = 0.5


def _unavailable(cls: type) -> type:
    # Every call that fails on the connection raises PresenceError, whatever the
    # redis-py exception (matchmaking turns it into a clear error for the client).
    for name, method in list(vars(cls).items()):
        if inspect.iscoroutinefunction(method) and not name.startswith("_") and name != "shutdown":
            setattr(cls, name, _guarded(method))
    return cls


def _guarded(method: Any) -> Any:
    @functools.wraps(method)
    async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        except (RedisError, OSError) as e:
            raise PresenceError(f"Redis at {self.url} unreachable: {e}") from e
    return call


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _client(url: str) -> Any:
    # short timeouts: a Redis that went away must fail a request, never hang it
    return aioredis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=2.0, socket_timeout=5.0,
                                   health_check_interval=10)


@_unavailable
class RedisPresence(Presence):
    """Presence on a Redis shared by every process (``redis://host:port/db``)."""

    def __init__(self, url: str = DEFAULT_URL) -> None:
        self.url = url
        self._redis = _client(url)
        self._sub_conn = _client(url)
        self._pubsub: Any = None
        self._callbacks: dict[str, list[Subscriber]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def redis(self) -> Any:
        """The redis-py client (for what Presence does not cover)."""
        return self._redis

    # -- pub/sub --------------------------------------------------------------
    async def subscribe(self, topic: str, callback: Subscriber) -> None:
        callbacks = self._callbacks.setdefault(topic, [])
        callbacks.append(callback)
        if len(callbacks) == 1:
            if self._pubsub is None:
                self._pubsub = self._sub_conn.pubsub(ignore_subscribe_messages=True)
            await self._pubsub.subscribe(topic)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.ensure_future(self._read())

    async def unsubscribe(self, topic: str, callback: Subscriber | None = None) -> None:
        callbacks = self._callbacks.get(topic)
        if not callbacks:
            return
        if callback is None:
            callbacks.clear()
        elif callback in callbacks:
            callbacks.remove(callback)
        if not callbacks:
            del self._callbacks[topic]
            if self._pubsub is not None:
                with contextlib.suppress(RedisError):     # (it ends with the connection anyway)
                    await self._pubsub.unsubscribe(topic)

    async def publish(self, topic: str, data: Any) -> None:
        await self._redis.publish(topic, _dumps(data))

    async def channels(self, pattern: str = "*") -> list[str]:
        return list(await self._redis.pubsub_channels(pattern))

    async def _read(self) -> None:
        # One reader delivers every message; it resubscribes after Redis came back.
        while not self._closed:
            pubsub = self._pubsub
            try:
                if pubsub is None or not pubsub.subscribed:
                    await asyncio.sleep(0.05)
                    if not self._callbacks:
                        return
                    continue
                message = await pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as e:      # (RedisError, OSError, or anything the client lets out)
                log.warning("presence: lost the subscription connection (%r); subscribing again", e)
                await asyncio.sleep(_RETRY_PAUSE)
                await self._resubscribe()
                continue
            if message is None or message.get("type") != "message":
                continue
            topic, raw = message["channel"], message["data"]
            try:
                data = json.loads(raw)
            except (TypeError, ValueError):
                log.warning("presence: a message on %r is not JSON; ignored", topic)
                continue
            for callback in list(self._callbacks.get(topic, ())):
                try:
                    await invoke(callback, data)
                except Exception:
                    log.exception("presence subscriber of %r failed", topic)

    async def _resubscribe(self) -> None:
        old, self._pubsub = self._pubsub, self._sub_conn.pubsub(ignore_subscribe_messages=True)
        if old is not None:
            with contextlib.suppress(RedisError, OSError):
                await old.aclose()
        if self._callbacks:
            with contextlib.suppress(RedisError, OSError):      # (the reader tries again)
                await self._pubsub.subscribe(*self._callbacks)

    # -- keys -------------------------------------------------------------------
    async def exists(self, key: str) -> bool:
        return bool(await self._redis.exists(key))

    async def set(self, key: str, value: Any) -> None:
        await self._redis.set(key, value)

    async def setex(self, key: str, value: Any, seconds: float) -> None:
        await self._redis.set(key, value, px=max(1, int(seconds * 1000)))

    async def set_if_absent(self, key: str, value: Any, seconds: float) -> bool:
        return bool(await self._redis.set(key, value, px=max(1, int(seconds * 1000)), nx=True))

    async def expire(self, key: str, seconds: float) -> None:
        await self._redis.pexpire(key, max(1, int(seconds * 1000)))

    async def get(self, key: str) -> Any:
        return await self._redis.get(key)

    async def delete(self, key: str) -> None:
        await self._redis.delete(key)

    async def incr(self, key: str) -> int:
        return int(await self._redis.incr(key))

    async def decr(self, key: str) -> int:
        return int(await self._redis.decr(key))

    # -- sets -------------------------------------------------------------------
    async def sadd(self, key: str, value: Any) -> None:
        await self._redis.sadd(key, value)

    async def smembers(self, key: str) -> list[Any]:
        return list(await self._redis.smembers(key))

    async def sismember(self, key: str, value: Any) -> bool:
        return bool(await self._redis.sismember(key, value))

    async def srem(self, key: str, value: Any) -> None:
        await self._redis.srem(key, value)

    async def scard(self, key: str) -> int:
        return int(await self._redis.scard(key))

    async def sinter(self, *keys: str) -> list[Any]:
        return list(await self._redis.sinter(*keys)) if keys else []

    # -- hashes -----------------------------------------------------------------
    async def hset(self, key: str, field: str, value: Any) -> None:
        await self._redis.hset(key, field, value)

    async def hincrby(self, key: str, field: str, increment: int) -> int:
        return int(await self._redis.hincrby(key, field, increment))

    async def hincrbyex(self, key: str, field: str, increment: int, expire_seconds: float) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, field, increment)
            pipe.pexpire(key, max(1, int(expire_seconds * 1000)))
            value, _ = await pipe.execute()
        return int(value)

    async def hget(self, key: str, field: str) -> Any:
        return await self._redis.hget(key, field)

    async def hgetall(self, key: str) -> dict[str, Any]:
        return dict(await self._redis.hgetall(key))

    async def hdel(self, key: str, field: str) -> bool:
        return bool(await self._redis.hdel(key, field))

    async def hlen(self, key: str) -> int:
        return int(await self._redis.hlen(key))

    # -- lists ------------------------------------------------------------------
    async def llen(self, key: str) -> int:
        return int(await self._redis.llen(key))

    async def rpush(self, key: str, *values: Any) -> int:
        return int(await self._redis.rpush(key, *values))

    async def lpush(self, key: str, *values: Any) -> int:
        return int(await self._redis.lpush(key, *values))

    async def rpop(self, key: str) -> Any:
        return await self._redis.rpop(key)

    async def lpop(self, key: str) -> Any:
        return await self._redis.lpop(key)

    async def brpop(self, *keys: str, timeout: float = 0) -> tuple[str, Any] | None:
        # (on a connection of its own: a blocking pop must not hold up other commands)
        conn = _client(self.url)
        try:
            found = await conn.brpop(list(keys), timeout=timeout)
        finally:
            await conn.aclose()
        return (found[0], found[1]) if found else None

    async def shutdown(self) -> None:
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()
        await self._sub_conn.aclose()
        await self._redis.aclose()


@_unavailable
class RedisDriver(Driver):
    """Room listings in the ``roomcaches`` hash of a shared Redis."""

    def __init__(self, url: str = DEFAULT_URL) -> None:
        self.url = url
        self._redis = _client(url)

    async def create(self, listing: RoomListing) -> None:
        await self.save(listing)

    async def save(self, listing: RoomListing) -> None:
        await self._redis.hset(ROOMCACHES, listing.room_id, _dumps(listing.to_json()))

    async def remove(self, room_id: str) -> None:
        await self._redis.hdel(ROOMCACHES, room_id)

    async def find(self, room_id: str) -> RoomListing | None:
        raw = await self._redis.hget(ROOMCACHES, room_id)
        return _parse(room_id, raw) if raw is not None else None

    async def query(self, conditions: dict[str, Any], order: dict[str, int] | None = None) -> list[RoomListing]:
        if set(conditions) == {"roomId"}:
            found = await self.find(conditions["roomId"])
            return [found] if found is not None else []
        raw = await self._redis.hgetall(ROOMCACHES)
        name = conditions.get("name")
        needle = f'"name":{_dumps(name)}' if isinstance(name, str) else None
        out = []
        for room_id, text in raw.items():
            if needle is not None and needle not in text:
                continue            # (the cheap test Node makes too)
            listing = _parse(room_id, text)
            if listing is not None and matches(listing, conditions):
                out.append(listing)
        out.sort(key=lambda item: item.created_at)
        return sort_listings(out, order) if order else out

    async def cleanup(self, process_id: str) -> None:
        raw = await self._redis.hgetall(ROOMCACHES)
        gone = [room_id for room_id, text in raw.items()
                if (listing := _parse(room_id, text)) is not None and listing.process_id == process_id]
        for i in range(0, len(gone), 500):
            await self._redis.hdel(ROOMCACHES, *gone[i:i + 500])

    async def shutdown(self) -> None:
        await self._redis.aclose()


def _parse(room_id: str, text: str) -> RoomListing | None:
    try:
        return RoomListing.from_json(json.loads(text))
    except (ValueError, ProtocolError):
        log.warning("roomcaches: the listing of %r is not one; ignored", room_id)
        return None
