"""The loop of a room's simulation and patches (``pyseus.server.ticker``)."""
from __future__ import annotations

import asyncio

import pytest

from pyseus.server.ticker import Ticker
from tests.server.conftest import TIMER_LOOPS, counting_loop


@pytest.mark.parametrize("base", TIMER_LOOPS)
def test_each_step_sets_one_timer_on_every_loop(base: type[asyncio.AbstractEventLoop]) -> None:
    # uvloop may run a timer up to a millisecond early: a step that then found
    # nothing due would set a timer for the instant left and spin (thousands of
    # wakeups a second for one room) until the clock moved on.
    loop_class = counting_loop(base, "call_at")
    steps: list[str] = []

    async def run() -> None:
        ticker = Ticker(lambda: steps.append("simulate"), lambda: steps.append("patch"),
                        spawn=None, report=None)  # type: ignore[arg-type]
        ticker.start(10, 10)
        await asyncio.sleep(0.3)
        ticker.stop()

    with asyncio.Runner(loop_factory=loop_class) as runner:
        runner.run(run())
    simulated = steps.count("simulate")
    assert 20 <= simulated <= 31
    assert steps.count("patch") == simulated
    # (plus the timers of asyncio.sleep and of the runner)
    assert loop_class.timers_set <= simulated + 3      # type: ignore[attr-defined]
