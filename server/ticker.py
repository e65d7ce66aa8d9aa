"""The loop that runs a room's simulation and sends its patches.

One schedule for both, so that with equal periods every patch follows exactly
one simulation step (two timers would drift against each other and skip or
double patches). Each runs at a fixed rate that catches up once after a stall,
never in a burst. A room with neither a simulation nor automatic patches has
no loop at all.
"""
from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Ticker"]


class Ticker:
    """Calls ``simulate()`` every simulation period and ``patch()`` every patch period.

    ``spawn`` starts the loop's task (the owner keeps it referenced and reports
    what it raises); ``report(error, where)`` gets the errors of one step, after
    which the loop goes on.
    """

    def __init__(self, simulate: Callable[[], Awaitable[None]], patch: Callable[[], Any],
                 spawn: Callable[[Any, str], asyncio.Future[Any]],
                 report: Callable[[BaseException, str], None]) -> None:
        self._simulate = simulate
        self._patch = patch
        self._spawn = spawn
        self._report = report
        self._task: asyncio.Future[Any] | None = None
        self._generation = 0

    def start(self, simulation_ms: float | None, patch_ms: float | None) -> None:
        """(Re)start with these periods (None: that part is off)."""
        self.stop()
        if simulation_ms is not None or patch_ms is not None:
            self._task = self._spawn(self._run(self._generation, simulation_ms, patch_ms), "ticker")

    @property
    def running(self) -> bool:
        return self._task is not None

    def stop(self) -> None:
        # A loop that is running this very code (a simulation step changed the
        # schedule or disposed the room) is not cancelled, which would abort the
        # step at its next await: it sees the new generation and returns.
        self._generation += 1
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
        self._task = None

    async def _run(self, generation: int, simulation_ms: float | None, patch_ms: float | None) -> None:
        loop = asyncio.get_running_loop()
        sim_period = simulation_ms / 1000 if simulation_ms is not None else None
        patch_period = patch_ms / 1000 if patch_ms is not None else None
        start = loop.time()
        next_sim = start + sim_period if sim_period is not None else math.inf
        next_patch = start + patch_period if patch_period is not None else math.inf
        while True:
            await asyncio.sleep(max(0.0, min(next_sim, next_patch) - loop.time()))
            now = loop.time()
            if sim_period is not None and next_sim <= now:
                next_sim = next_sim + sim_period if next_sim + sim_period > now else now + sim_period
                try:
                    await self._simulate()
                except Exception as e:
                    self._report(e, "simulation interval")
                if generation != self._generation:
                    return      # the step replaced the schedule or stopped the room
            if patch_period is not None and next_patch <= now:
                next_patch = next_patch + patch_period if next_patch + patch_period > now else now + patch_period
                try:
                    self._patch()
                except Exception as e:
                    self._report(e, "patch")
                if generation != self._generation:
                    return
