"""Calling the application's callbacks: plain functions or coroutines, errors kept in.

Rooms, clocks, presence subscribers, client rooms and state listeners all call
code they do not own. ``invoke`` is for hooks whose result matters (awaited,
errors propagate); ``fire`` is for fire-and-forget callbacks: an exception,
raised at once or by the coroutine later, goes to ``on_error`` and never to the
caller. ``Tasks`` keeps a reference to each task it starts, so that a running
callback is never garbage-collected. ``remover`` is what every ``on_*``
registration returns.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["invoke", "fire", "Tasks", "logging_tasks", "remover", "positional_arity"]

_arity_cache: dict[Any, int | None] = {}


def positional_arity(fn: Callable[..., Any]) -> int | None:
    """How many positional arguments ``fn`` takes (None: any number)."""
    key = getattr(fn, "__func__", fn)
    if key not in _arity_cache:
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            _arity_cache[key] = None
        else:
            if any(p.kind is p.VAR_POSITIONAL for p in params):
                _arity_cache[key] = None
            else:
                _arity_cache[key] = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
    return _arity_cache[key]


async def invoke(fn: Callable[..., Any], *args: Any, trim: bool = False) -> Any:
    """Call ``fn(*args)``, awaiting the result when it is awaitable.

    ``trim``: pass only as many of ``args`` as ``fn`` takes (hooks whose later
    arguments are optional for the application, as in Colyseus).
    """
    if trim:
        arity = positional_arity(fn)
        if arity is not None and arity < len(args):
            args = args[:arity]
    result = fn(*args)
    if result is not None and inspect.isawaitable(result):     # (most hooks return None: no ABC check)
        result = await result
    return result


class Tasks:
    """The tasks one owner started: kept referenced until done, errors reported."""

    def __init__(self, on_error: Callable[[BaseException, str], None]) -> None:
        self._on_error = on_error
        self._tasks: set[asyncio.Future[Any]] = set()

    def spawn(self, awaitable: Any, what: str = "task") -> asyncio.Future[Any]:
        task: asyncio.Future[Any] = asyncio.ensure_future(awaitable)
        self._tasks.add(task)

        def done(t: asyncio.Future[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                self._on_error(t.exception(), what)  # type: ignore[arg-type]
        task.add_done_callback(done)
        return task

    def cancel(self) -> None:
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()

    def __len__(self) -> int:
        return len(self._tasks)


def fire(fn: Callable[..., Any], args: tuple[Any, ...], tasks: Tasks, what: str | Callable[[], str]) -> None:
    """Call ``fn(*args)`` and forget it: a coroutine result runs as a task of
    ``tasks``, and any exception goes to that owner's error handler. ``what``
    names the call in error reports (a function giving the name: called only then).
    (Positional only, arguments as a tuple: it runs for every message a room
    handles and every patch a client reads, and keywords or ``*args`` would
    take longer than most callbacks.)"""
    try:
        result = fn(*args)
        if result is not None and inspect.isawaitable(result):
            tasks.spawn(result, _label(what))
    except Exception as e:      # (spawning fails too when there is no event loop)
        tasks._on_error(e, _label(what))


def _label(what: str | Callable[[], str]) -> str:
    return what if isinstance(what, str) else what()


def logging_tasks(log: logging.Logger, owner: str) -> Tasks:
    """A ``Tasks`` whose errors are logged with ``owner`` in the message."""
    def report(e: BaseException, what: str) -> None:
        log.error("%s: %s raised %s", owner, what, type(e).__name__, exc_info=(type(e), e, e.__traceback__))
    return Tasks(report)


_NO_KEY: Any = object()


def remover(table: list[Any] | dict[Any, Any], entry: Any, key: Any = _NO_KEY) -> Callable[[], None]:
    """A function that removes ``entry`` from ``table`` (once; later calls do nothing).

    For a dict, ``key`` is where ``entry`` was put: it is removed only while it
    is still the value there (a later registration under the same key stays).
    """
    def remove() -> None:
        if isinstance(table, dict):
            if table.get(key, _NO_KEY) is entry:
                del table[key]
        elif entry in table:
            table.remove(entry)
    return remove

