"""The loop that runs a room's simulation and sends its patches.

One schedule for both, so that with equal periods every patch follows exactly
one simulation step (two timers would drift against each other and skip or
double patches). Each runs at a fixed rate that catches up once after a stall,
never in a burst. A room with neither a simulation nor automatic patches has
no loop at all.

A step is a timer callback of the event loop, not a task that sleeps: a
server runs thousands of room steps a second, and a task would add a future,
a wakeup and (on uvloop) a loop iteration to each. Only a simulation that
returns an awaitable runs the rest of its step as a task, and the next step
waits for it.

Steps start on a grid of a tenth of the period (up to that much after their
time, never before), so that the rooms of one rate step in a few shared
wakeups of the process instead of one each.
"""
from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

from pyseus.loop import TIMER_SLACK

__all__ = ["Ticker"]

_PHASES = 10        # steps of one period start on this many phases of it


class Ticker:
    """Calls ``simulate()`` every simulation period and ``patch()`` every patch period.

    ``simulate`` returns None, or an awaitable that ends its step. ``spawn``
    starts the task of such a step (the owner keeps it referenced and reports
    what it raises); ``report(error, where)`` gets the errors of one step,
    after which the loop goes on.
    """

    def __init__(self, simulate: Callable[[], Awaitable[None] | None], patch: Callable[[], Any],
                 spawn: Callable[[Any, str], asyncio.Future[Any]],
                 report: Callable[[BaseException, str], None]) -> None:
        self._simulate = simulate
        self._patch = patch
        self._spawn = spawn
        self._report = report
        self._generation = 0
        self._running = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._step_task: asyncio.Future[Any] | None = None     # an asynchronous simulation step
        self._sim_period = self._patch_period = math.inf
        self._next_sim = self._next_patch = math.inf
        self._phase = math.inf      # the grid steps start on

    def start(self, simulation_ms: float | None, patch_ms: float | None) -> None:
        """(Re)start with these periods (None: that part is off)."""
        self.stop()
        if simulation_ms is None and patch_ms is None:
            return
        # (kept: asyncio.get_running_loop() makes a system call each time, in Python 3.11)
        self._loop = loop = asyncio.get_running_loop()
        start = loop.time()
        self._sim_period = simulation_ms / 1000 if simulation_ms is not None else math.inf
        self._patch_period = patch_ms / 1000 if patch_ms is not None else math.inf
        self._phase = min(self._sim_period, self._patch_period) / _PHASES
        self._next_sim = start + self._sim_period
        self._next_patch = start + self._patch_period
        self._running = True
        self._schedule()

    @property
    def running(self) -> bool:
        return self._running

    def stop(self) -> None:
        # A step that is running this very code (a simulation changed the schedule
        # or disposed the room) is not cancelled, which would abort it at its next
        # await: it sees the new generation and ends without scheduling another.
        self._generation += 1
        self._running = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        task, self._step_task = self._step_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def _schedule(self) -> None:
        assert self._loop is not None
        phase = self._phase
        self._timer = self._loop.call_at(math.ceil(min(self._next_sim, self._next_patch) / phase) * phase,
                                         self._step, self._generation)

    def _step(self, generation: int) -> None:
        self._timer = None
        assert self._loop is not None
        now = self._loop.time()
        if self._next_sim <= now + TIMER_SLACK:
            self._next_sim = _advance(self._next_sim, self._sim_period, now)
            try:
                pending = self._simulate()
            except Exception as e:
                self._report(e, "simulation interval")
            else:
                if pending is not None:
                    self._step_task = self._spawn(self._finish(pending, generation, now), "simulation interval")
                    return
            if generation != self._generation:
                return          # the step replaced the schedule or stopped the room
        self._patch_if_due(now, generation)

    async def _finish(self, pending: Awaitable[None], generation: int, now: float) -> None:
        try:
            await pending
        except Exception as e:
            self._report(e, "simulation interval")
        if generation != self._generation:
            return
        self._step_task = None
        self._patch_if_due(now, generation)

    def _patch_if_due(self, now: float, generation: int) -> None:
        if self._next_patch <= now + TIMER_SLACK:
            self._next_patch = _advance(self._next_patch, self._patch_period, now)
            try:
                self._patch()
            except Exception as e:
                self._report(e, "patch")
            if generation != self._generation:
                return
        self._schedule()


def _advance(due: float, period: float, now: float) -> float:
    # the next time after `due`; after a stall, one period from now (catch up once, no burst)
    return due + period if due + period > now else now + period
