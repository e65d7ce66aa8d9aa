"""A room's clock: elapsed and delta time, timeouts and intervals, in milliseconds.

A room with a simulation interval ticks its clock on every simulation step, so
timers fire in step with the simulation. Otherwise the clock ticks by itself
when a timer is due.
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from typing import Any, Callable

from pyseus._callbacks import Tasks, fire, logging_tasks
from pyseus.loop import TIMER_SLACK

__all__ = ["Clock", "Timer"]

log = logging.getLogger("pyseus.server.clock")


class Timer:
    """A scheduled callback; ``clear()`` cancels it."""

    __slots__ = ("_clock", "callback", "interval", "due", "active")

    def __init__(self, clock: Clock, callback: Callable[[], Any], due: float, interval: float | None) -> None:
        self._clock = clock
        self.callback = callback
        self.due = due
        self.interval = interval
        self.active = True

    def clear(self) -> None:
        self.active = False


class Clock:
    """Time in milliseconds since the clock started."""

    def __init__(self, on_error: Callable[[BaseException], None] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._start = self._loop.time()
        self._now = 0.0
        self.delta_time = 0.0
        self._timers: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._driven = False
        self._wakeup: asyncio.TimerHandle | None = None
        # the tasks of async callbacks (kept referenced); errors go to on_error, or to the log
        self._tasks = logging_tasks(log, "clock") if on_error is None else Tasks(lambda e, what: on_error(e))
        self._running = True

    @property
    def elapsed_time(self) -> float:
        """Milliseconds since the clock started (as of the last tick when driven)."""
        return self._now if self._driven else (self._loop.time() - self._start) * 1000

    def drive(self, driven: bool) -> None:
        """Ticked by the owner (simulation interval) instead of by itself."""
        self._driven = driven
        self._schedule()

    def tick(self) -> None:
        now = (self._loop.time() - self._start) * 1000
        self.delta_time = now - self._now
        self._now = now
        due = now + TIMER_SLACK * 1000
        while self._timers and self._timers[0][0] <= due:
            _, _, timer = heapq.heappop(self._timers)
            if not timer.active:
                continue
            if timer.interval is not None:
                timer.due += timer.interval
                if timer.due <= now:
                    timer.due = now + timer.interval
                heapq.heappush(self._timers, (timer.due, next(self._seq), timer))
            else:
                timer.active = False
            fire(timer.callback, (), self._tasks, "clock callback")
        if not self._driven:
            self._schedule()

    def _schedule(self) -> None:
        if self._wakeup is not None:
            self._wakeup.cancel()
            self._wakeup = None
        while self._timers and not self._timers[0][2].active:
            heapq.heappop(self._timers)
        if self._driven or not self._running or not self._timers:
            return
        delay = max(0.0, (self._timers[0][0] - self.elapsed_time) / 1000)
        self._wakeup = self._loop.call_later(delay, self.tick)

    def _add(self, callback: Callable[[], Any], ms: float, interval: bool) -> Timer:
        if not self._driven:
            self._now = self.elapsed_time
        ms = max(0.0, float(ms))
        timer = Timer(self, callback, self.elapsed_time + ms, ms if interval else None)
        heapq.heappush(self._timers, (timer.due, next(self._seq), timer))
        self._schedule()
        return timer

    def set_timeout(self, callback: Callable[[], Any], ms: float) -> Timer:
        """Call ``callback()`` once after ``ms`` milliseconds (it may be async)."""
        return self._add(callback, ms, interval=False)

    def set_interval(self, callback: Callable[[], Any], ms: float) -> Timer:
        """Call ``callback()`` every ``ms`` milliseconds (it may be async)."""
        if ms <= 0:
            raise ValueError("an interval must be positive")
        return self._add(callback, ms, interval=True)

    def clear(self) -> None:
        """Cancel every timer."""
        for _, _, timer in self._timers:
            timer.active = False
        self._timers.clear()
        self._schedule()

    def stop(self) -> None:
        self.clear()
        self._running = False
