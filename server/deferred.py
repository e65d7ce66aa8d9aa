"""Deferred: an awaitable that code outside it resolves or rejects."""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from typing import Any, Generic, TypeVar

from .errors import ReconnectionRejected

__all__ = ["Deferred"]

T = TypeVar("T")


class Deferred(Generic[T]):
    """An awaitable result, settled by ``resolve(value)`` or ``reject(reason)``.

    Awaiting a rejected Deferred raises ``ReconnectionRejected(reason)``.
    Settling an already settled Deferred does nothing.
    """

    def __init__(self) -> None:
        self._future: asyncio.Future[T] = asyncio.get_running_loop().create_future()

    def resolve(self, value: T | None = None) -> None:
        if not self._future.done():
            self._future.set_result(value)  # type: ignore[arg-type]

    def reject(self, reason: Any = None) -> None:
        if not self._future.done():
            self._future.set_exception(ReconnectionRejected(reason))
            # nobody may await it: do not report "exception was never retrieved"
            self._future.add_done_callback(lambda f: f.exception())

    def add_done_callback(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` once the Deferred is settled."""
        self._future.add_done_callback(lambda _: fn())

    @property
    def done(self) -> bool:
        return self._future.done()

    @property
    def rejected(self) -> bool:
        return self._future.done() and self._future.exception() is not None

    def __await__(self) -> Generator[Any, None, T]:
        return self._future.__await__()
