"""The room clock: timers in milliseconds, self-ticking or driven by a simulation."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pyseus.server import Clock
from tests.server.conftest import TIMER_LOOPS, counting_loop, eventually


async def test_timeout_fires_once_and_interval_repeats() -> None:
    clock = Clock()
    once: list[float] = []
    many: list[float] = []
    clock.set_timeout(lambda: once.append(clock.elapsed_time), 20)
    handle = clock.set_interval(lambda: many.append(clock.elapsed_time), 10)
    await eventually(lambda: len(many) >= 4 and once)
    handle.clear()
    count = len(many)
    await asyncio.sleep(0.05)
    assert len(once) == 1 and once[0] >= 20
    assert len(many) == count
    assert all(b > a for a, b in zip(many, many[1:]))
    clock.stop()


async def test_clear_cancels_everything_and_a_cleared_timeout_never_fires() -> None:
    clock = Clock()
    fired: list[str] = []
    clock.set_timeout(lambda: fired.append("cleared"), 10).clear()
    clock.set_timeout(lambda: fired.append("a"), 20)
    clock.set_interval(lambda: fired.append("b"), 20)
    clock.clear()
    await asyncio.sleep(0.06)
    assert fired == []
    clock.set_timeout(lambda: fired.append("after clear"), 5)
    await eventually(lambda: fired == ["after clear"])
    clock.stop()


async def test_async_callbacks_and_errors_are_reported() -> None:
    errors: list[BaseException] = []
    clock = Clock(on_error=errors.append)
    done: list[str] = []

    async def later() -> None:
        await asyncio.sleep(0)
        done.append("async")

    def broken() -> None:
        raise RuntimeError("timer bug")

    async def broken_async() -> None:
        raise ValueError("async timer bug")

    clock.set_timeout(broken, 1)
    clock.set_timeout(broken_async, 1)
    clock.set_timeout(later, 5)
    await eventually(lambda: done == ["async"] and len(errors) == 2)
    assert sorted(type(e).__name__ for e in errors) == ["RuntimeError", "ValueError"]
    clock.stop()


async def test_a_driven_clock_only_moves_on_tick() -> None:
    clock = Clock()
    clock.drive(True)
    fired: list[Any] = []
    clock.set_timeout(lambda: fired.append(clock.elapsed_time), 10)
    await asyncio.sleep(0.03)
    assert fired == [] and clock.elapsed_time == 0
    clock.tick()
    assert len(fired) == 1 and fired[0] == clock.elapsed_time >= 10
    assert clock.delta_time == clock.elapsed_time
    first = clock.elapsed_time
    await asyncio.sleep(0.01)
    clock.tick()
    assert clock.delta_time == pytest.approx(clock.elapsed_time - first)
    clock.stop()


async def test_invalid_interval() -> None:
    clock = Clock()
    with pytest.raises(ValueError):
        clock.set_interval(lambda: None, 0)
    clock.stop()


@pytest.mark.parametrize("base", TIMER_LOOPS)
def test_an_interval_sets_one_timer_per_call_on_every_loop(base: type[asyncio.AbstractEventLoop]) -> None:
    # (see tests/server/test_ticker.py: an early wakeup must not spin)
    loop_class = counting_loop(base, "call_later")
    fired: list[float] = []

    async def run() -> None:
        clock = Clock()
        clock.set_interval(lambda: fired.append(clock.elapsed_time), 10)
        await asyncio.sleep(0.3)
        clock.stop()

    with asyncio.Runner(loop_factory=loop_class) as runner:
        runner.run(run())
    assert 20 <= len(fired) <= 31
    assert loop_class.timers_set <= len(fired) + 3      # type: ignore[attr-defined]
