"""Presence: the key/value and publish/subscribe layer rooms share.

``Presence`` is the interface (the Colyseus method set, in snake_case);
``LocalPresence`` keeps everything in this process. Rooms reach it as
``self.presence``. A Redis implementation can take its place to share state
between processes.
"""
from __future__ import annotations

import asyncio
import fnmatch
import logging
import time
from abc import ABC, abstractmethod
from collections import defaultdict, deque
from typing import Any, Callable

from pyseus._callbacks import invoke
from pyseus.errors import PyseusError

__all__ = ["Presence", "LocalPresence", "PresenceError"]

log = logging.getLogger("pyseus.server.presence")

Subscriber = Callable[[Any], Any]


class PresenceError(PyseusError):
    """A shared presence (or driver) could not be reached; the call did nothing."""


class Presence(ABC):
    """Shared keys, sets, hashes, lists and channels."""

    @abstractmethod
    async def subscribe(self, topic: str, callback: Subscriber) -> None:
        """Call ``callback(message)`` for every message published on ``topic``."""

    @abstractmethod
    async def unsubscribe(self, topic: str, callback: Subscriber | None = None) -> None:
        """Stop one callback, or every callback of the topic."""

    @abstractmethod
    async def publish(self, topic: str, data: Any) -> None:
        """Send ``data`` to the subscribers of ``topic``."""

    @abstractmethod
    async def channels(self, pattern: str = "*") -> list[str]:
        """Topics that have subscribers, matching a glob pattern."""

    @abstractmethod
    async def exists(self, key: str) -> bool: ...

    @abstractmethod
    async def set(self, key: str, value: Any) -> None: ...

    @abstractmethod
    async def setex(self, key: str, value: Any, seconds: float) -> None: ...

    @abstractmethod
    async def set_if_absent(self, key: str, value: Any, seconds: float) -> bool:
        """Set ``key`` for ``seconds`` unless it exists; whether it was set (a lock).
        (Not in the Colyseus API: pyseus processes coordinate with it.)"""

    @abstractmethod
    async def expire(self, key: str, seconds: float) -> None: ...

    @abstractmethod
    async def get(self, key: str) -> Any: ...

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    @abstractmethod
    async def sadd(self, key: str, value: Any) -> None: ...

    @abstractmethod
    async def smembers(self, key: str) -> list[Any]: ...

    @abstractmethod
    async def sismember(self, key: str, value: Any) -> bool: ...

    @abstractmethod
    async def srem(self, key: str, value: Any) -> None: ...

    @abstractmethod
    async def scard(self, key: str) -> int: ...

    @abstractmethod
    async def sinter(self, *keys: str) -> list[Any]: ...

    @abstractmethod
    async def hset(self, key: str, field: str, value: Any) -> None: ...

    @abstractmethod
    async def hincrby(self, key: str, field: str, increment: int) -> int: ...

    @abstractmethod
    async def hincrbyex(self, key: str, field: str, increment: int, expire_seconds: float) -> int: ...

    @abstractmethod
    async def hget(self, key: str, field: str) -> Any: ...

    @abstractmethod
    async def hgetall(self, key: str) -> dict[str, Any]: ...

    @abstractmethod
    async def hdel(self, key: str, field: str) -> bool: ...

    @abstractmethod
    async def hlen(self, key: str) -> int: ...

    @abstractmethod
    async def incr(self, key: str) -> int: ...

    @abstractmethod
    async def decr(self, key: str) -> int: ...

    @abstractmethod
    async def llen(self, key: str) -> int: ...

    @abstractmethod
    async def rpush(self, key: str, *values: Any) -> int: ...

    @abstractmethod
    async def lpush(self, key: str, *values: Any) -> int: ...

    @abstractmethod
    async def rpop(self, key: str) -> Any: ...

    @abstractmethod
    async def lpop(self, key: str) -> Any: ...

    @abstractmethod
    async def brpop(self, *keys: str, timeout: float = 0) -> tuple[str, Any] | None:
        """Pop from the first non-empty list, waiting up to ``timeout`` seconds (0: forever)."""

    async def shutdown(self) -> None:
        """Release connections (nothing to do in process)."""


class LocalPresence(Presence):
    """Presence for a single process: plain dicts, and in-process delivery."""

    def __init__(self) -> None:
        self._keys: dict[str, Any] = {}
        self._expiry: dict[str, float] = {}
        self._subscribers: dict[str, list[Subscriber]] = defaultdict(list)
        self._list_waiters: dict[str, list[asyncio.Future[None]]] = defaultdict(list)

    # -- expiry -------------------------------------------------------------
    def _alive(self, key: str) -> bool:
        due = self._expiry.get(key)
        if due is not None and due <= time.monotonic():
            self._keys.pop(key, None)
            del self._expiry[key]
        return key in self._keys

    def _typed(self, key: str, kind: type, create: bool = True) -> Any:
        if self._alive(key):
            value = self._keys[key]
            if not isinstance(value, kind):
                raise TypeError(f"key {key!r} holds a {type(value).__name__}, not a {kind.__name__}")
            return value
        if not create:
            return None
        value = kind()
        self._keys[key] = value
        return value

    # -- pub/sub --------------------------------------------------------------
    async def subscribe(self, topic: str, callback: Subscriber) -> None:
        self._subscribers[topic].append(callback)

    async def unsubscribe(self, topic: str, callback: Subscriber | None = None) -> None:
        subs = self._subscribers.get(topic)
        if not subs:
            return
        if callback is None:
            subs.clear()
        elif callback in subs:
            subs.remove(callback)
        if not subs:
            del self._subscribers[topic]

    async def publish(self, topic: str, data: Any) -> None:
        for callback in list(self._subscribers.get(topic, ())):
            try:
                await invoke(callback, data)
            except Exception:
                log.exception("presence subscriber of %r failed", topic)

    async def channels(self, pattern: str = "*") -> list[str]:
        return [t for t, subs in self._subscribers.items() if subs and fnmatch.fnmatchcase(t, pattern)]

    # -- keys -------------------------------------------------------------------
    async def exists(self, key: str) -> bool:
        return self._alive(key)

    async def set(self, key: str, value: Any) -> None:
        self._keys[key] = value
        self._expiry.pop(key, None)

    async def setex(self, key: str, value: Any, seconds: float) -> None:
        self._keys[key] = value
        self._expiry[key] = time.monotonic() + seconds

    async def set_if_absent(self, key: str, value: Any, seconds: float) -> bool:
        if self._alive(key):
            return False
        await self.setex(key, value, seconds)
        return True

    async def expire(self, key: str, seconds: float) -> None:
        if self._alive(key):
            self._expiry[key] = time.monotonic() + seconds

    async def get(self, key: str) -> Any:
        return self._keys.get(key) if self._alive(key) else None

    async def delete(self, key: str) -> None:
        self._keys.pop(key, None)
        self._expiry.pop(key, None)

    async def incr(self, key: str) -> int:
        value = int(await self.get(key) or 0) + 1
        self._keys[key] = value
        return value

    async def decr(self, key: str) -> int:
        value = int(await self.get(key) or 0) - 1
        self._keys[key] = value
        return value

    # -- sets -------------------------------------------------------------------
    async def sadd(self, key: str, value: Any) -> None:
        members = self._typed(key, list)
        if value not in members:
            members.append(value)

    async def smembers(self, key: str) -> list[Any]:
        return list(self._typed(key, list, create=False) or ())

    async def sismember(self, key: str, value: Any) -> bool:
        return value in (self._typed(key, list, create=False) or ())

    async def srem(self, key: str, value: Any) -> None:
        members = self._typed(key, list, create=False)
        if members and value in members:
            members.remove(value)

    async def scard(self, key: str) -> int:
        return len(self._typed(key, list, create=False) or ())

    async def sinter(self, *keys: str) -> list[Any]:
        sets = [self._typed(k, list, create=False) or [] for k in keys]
        if not sets:
            return []
        return [v for v in sets[0] if all(v in s for s in sets[1:])]

    # -- hashes -----------------------------------------------------------------
    async def hset(self, key: str, field: str, value: Any) -> None:
        self._typed(key, dict)[field] = value

    async def hincrby(self, key: str, field: str, increment: int) -> int:
        h = self._typed(key, dict)
        h[field] = int(h.get(field, 0)) + increment
        return int(h[field])

    async def hincrbyex(self, key: str, field: str, increment: int, expire_seconds: float) -> int:
        value = await self.hincrby(key, field, increment)
        await self.expire(key, expire_seconds)
        return value

    async def hget(self, key: str, field: str) -> Any:
        return (self._typed(key, dict, create=False) or {}).get(field)

    async def hgetall(self, key: str) -> dict[str, Any]:
        return dict(self._typed(key, dict, create=False) or {})

    async def hdel(self, key: str, field: str) -> bool:
        h = self._typed(key, dict, create=False)
        return bool(h) and h.pop(field, _ABSENT) is not _ABSENT

    async def hlen(self, key: str) -> int:
        return len(self._typed(key, dict, create=False) or ())

    # -- lists ------------------------------------------------------------------
    def _wake(self, key: str) -> None:
        for waiter in self._list_waiters.pop(key, []):
            if not waiter.done():
                waiter.set_result(None)

    async def llen(self, key: str) -> int:
        return len(self._typed(key, deque, create=False) or ())

    async def rpush(self, key: str, *values: Any) -> int:
        items = self._typed(key, deque)
        items.extend(values)
        self._wake(key)
        return len(items)

    async def lpush(self, key: str, *values: Any) -> int:
        items = self._typed(key, deque)
        items.extendleft(values)
        self._wake(key)
        return len(items)

    async def rpop(self, key: str) -> Any:
        items = self._typed(key, deque, create=False)
        return items.pop() if items else None

    async def lpop(self, key: str) -> Any:
        items = self._typed(key, deque, create=False)
        return items.popleft() if items else None

    async def brpop(self, *keys: str, timeout: float = 0) -> tuple[str, Any] | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else None
        while True:
            for key in keys:
                items = self._typed(key, deque, create=False)
                if items:
                    return key, items.pop()
            waiter = loop.create_future()
            for key in keys:
                self._list_waiters[key].append(waiter)
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return None
            try:
                await asyncio.wait_for(waiter, remaining)
            except asyncio.TimeoutError:
                return None
            finally:
                for key in keys:
                    waiters = self._list_waiters.get(key)
                    if waiters and waiter in waiters:
                        waiters.remove(waiter)
                        if not waiters:
                            del self._list_waiters[key]


_ABSENT = object()
