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

Simulation steps and patches start on a grid of half their period (up to that
much after their time, never before: a fixed lateness that keeps their rate
exact), and the rooms due at one time of a grid step together from one
timer (``_Beat``): first every room's simulation, then every room's patch.
The interpreter then runs the rooms' code in one stretch and the kernel the
sends in another, which costs less than taking turns room by room, and the
process wakes a few times a period instead of once per room (server CPU at
500 clients without input, bench/README.md).
"""
from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Ticker"]

_PHASES = 2         # steps of one period start on this many phases of it


class _Beat:
    """The tickers of one event loop due at one time of the grid (each with the
    generation it was scheduled in), and its timer."""

    __slots__ = ("tickers", "timer")

    def __init__(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        self.tickers: list[tuple[Ticker, int]] = []
        self.timer = loop.call_at(when, _run_beat, loop, when)


# The beats waiting to run, by loop and time. A loop is dropped once it has none
# left, or once it is closed (a loop closed with rooms still ticking).
_beats: dict[asyncio.AbstractEventLoop, dict[float, _Beat]] = {}


def _join_beat(loop: asyncio.AbstractEventLoop, when: float, ticker: Ticker, generation: int) -> None:
    beats = _beats.get(loop)
    if beats is None:
        for closed in [other for other in _beats if other.is_closed()]:
            del _beats[closed]
        beats = _beats[loop] = {}
    beat = beats.get(when)
    if beat is None:
        beat = beats[when] = _Beat(loop, when)
    beat.tickers.append((ticker, generation))


def _leave_beat(loop: asyncio.AbstractEventLoop, when: float, ticker: Ticker, generation: int) -> None:
    beat = _beats[loop][when]
    beat.tickers.remove((ticker, generation))
    if not beat.tickers:
        beat.timer.cancel()
        _drop_beat(loop, when)


def _drop_beat(loop: asyncio.AbstractEventLoop, when: float) -> _Beat:
    beats = _beats[loop]
    beat = beats.pop(when)
    if not beats:
        del _beats[loop]
    return beat


def _run_beat(loop: asyncio.AbstractEventLoop, when: float) -> None:
    tickers = _drop_beat(loop, when).tickers
    for ticker, _ in tickers:
        ticker._beat_time = None
    # What is due is decided on the grid (a ticker's times up to the beat's), not
    # on the clock: uvloop may run a timer up to a millisecond early, and a
    # clock with slack would also run another grid's step a little early.
    now = loop.time()
    patching: list[tuple[Ticker, int]] = []
    for ticker, generation in tickers:
        if generation == ticker._generation:    # (not stopped by a step before it)
            ticker._simulate_if_due(when, now, patching)
    for ticker, generation in patching:
        ticker._patch_if_due(when, now, generation)


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
        self._beat_time: float | None = None        # the time of the beat it waits for
        self._step_task: asyncio.Future[Any] | None = None     # an asynchronous simulation step
        self._sim_period = self._patch_period = math.inf
        self._next_sim = self._next_patch = math.inf      # when each is due
        self._sim_at = self._patch_at = math.inf          # the same, on the grid (when each runs)

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
        if self._beat_time is not None:
            assert self._loop is not None
            _leave_beat(self._loop, self._beat_time, self, self._generation - 1)
            self._beat_time = None
        task, self._step_task = self._step_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def _schedule(self) -> None:
        assert self._loop is not None
        self._sim_at = _on_grid(self._next_sim, self._sim_period)
        self._patch_at = _on_grid(self._next_patch, self._patch_period)
        when = min(self._sim_at, self._patch_at)
        _join_beat(self._loop, when, self, self._generation)
        self._beat_time = when

    def _simulate_if_due(self, at: float, now: float, patching: list[tuple[Ticker, int]]) -> None:
        # The first half of a step; the second (_patch_if_due) runs once every
        # ticker of the beat has simulated, unless this simulation is asynchronous.
        generation = self._generation
        if self._sim_at <= at:
            self._next_sim = _advance(self._next_sim, self._sim_period, now)
            try:
                pending = self._simulate()
            except Exception as e:
                self._report(e, "simulation interval")
            else:
                if pending is not None:
                    self._step_task = self._spawn(self._finish(pending, generation, at, now), "simulation interval")
                    return
        patching.append((self, generation))

    async def _finish(self, pending: Awaitable[None], generation: int, at: float, now: float) -> None:
        try:
            await pending
        except Exception as e:
            self._report(e, "simulation interval")
        if generation != self._generation:
            return
        self._step_task = None
        self._patch_if_due(at, now, generation)

    def _patch_if_due(self, at: float, now: float, generation: int) -> None:
        if generation != self._generation:
            return              # stopped or restarted by a step of the beat (its own or another room's)
        if self._patch_at <= at:
            self._next_patch = _advance(self._next_patch, self._patch_period, now)
            try:
                self._patch()
            except Exception as e:
                self._report(e, "patch")
            if generation != self._generation:
                return
        self._schedule()


def _on_grid(due: float, period: float) -> float:
    # The first time at or after `due` on the grid of the period's phases. Each of
    # the simulation and the patch has its own grid, so that each keeps a fixed
    # lateness (none of the jitter of rounding to the other's grid), and rooms
    # of the same periods share its times.
    if due == math.inf:
        return due
    phase = period / _PHASES
    return math.ceil(due / phase) * phase


def _advance(due: float, period: float, now: float) -> float:
    # the next time after `due`; after a stall, one period from now (catch up once, no burst)
    return due + period if due + period > now else now + period
