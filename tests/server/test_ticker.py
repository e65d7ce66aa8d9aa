"""The loop of a room's simulation and patches (``pyseus.server.ticker``)."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pyseus.server import ticker as ticker_module
from pyseus.server.ticker import Ticker
from tests.server.conftest import TIMER_LOOPS, counting_loop


@pytest.fixture
def beat_times(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The times of the beats run from now on, in order."""
    times: list[float] = []
    run_beat = ticker_module._run_beat

    def recording(loop: asyncio.AbstractEventLoop, when: float) -> None:
        times.append(when)
        run_beat(loop, when)

    monkeypatch.setattr(ticker_module, "_run_beat", recording)
    return times


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


async def test_tickers_of_one_period_share_two_phases_of_it() -> None:
    # Started at any time, they step on two phases of the period (25 ms apart
    # here), up to a phase after their own time: one wakeup serves all the
    # tickers of a phase, instead of one wakeup each.
    loop = asyncio.get_running_loop()
    steps: list[list[float]] = []
    tickers = []
    for _ in range(40):
        times: list[float] = []
        steps.append(times)
        tickers.append(Ticker(lambda times=times: times.append(loop.time()), lambda: None,
                              spawn=None, report=None))  # type: ignore[arg-type]
        tickers[-1].start(50, 50)
        await asyncio.sleep(0.0013)
    await asyncio.sleep(0.5)
    for ticker in tickers:
        ticker.stop()
    counts = [len(times) for times in steps]
    assert all(9 <= n <= 12 for n in counts), counts
    # the wakeups: runs of steps with no gap of 0.5 ms (40 a period if each had its own)
    moments = sorted(t for times in steps for t in times)
    wakeups = 1 + sum(b - a > 0.0005 for a, b in zip(moments, moments[1:]))
    assert wakeups <= 2 * max(counts) + 1, wakeups
    assert not ticker_module._beats         # nothing left scheduled


async def test_the_tickers_of_one_beat_all_simulate_before_any_patches(beat_times: list[float]) -> None:
    events: list[tuple[float, str, int]] = []
    tickers = [Ticker(lambda i=i: events.append((beat_times[-1], "simulate", i)),
                      lambda i=i: events.append((beat_times[-1], "patch", i)),
                      spawn=None, report=None) for i in range(5)]  # type: ignore[arg-type]
    for ticker in tickers:
        ticker.start(20, 20)
    await asyncio.sleep(0.05)
    for ticker in tickers:
        ticker.stop()
    # (started microseconds apart, they share their first beat unless a grid time falls between)
    first = [(kind, i) for when, kind, i in events if when == beat_times[0]]
    assert len(first) >= 4, events
    n = len(first) // 2
    assert sorted(first[:n]) == [("simulate", i) for i in range(n)], events
    assert sorted(first[n:]) == [("patch", i) for i in range(n)], events
    for when in set(beat_times):
        kinds = [kind for at, kind, _ in events if at == when]
        assert kinds == sorted(kinds, reverse=True), events     # every "simulate" before any "patch"


async def test_a_step_may_stop_or_restart_the_other_tickers_of_its_beat() -> None:
    events: list[str] = []
    second: list[Ticker] = []
    third: list[Ticker] = []

    def first_step() -> None:
        events.append("first")
        second[0].stop()                # not simulated nor patched in this beat
        third[0].start(20, 20)          # its step in this beat is dropped; it starts over

    tickers = [Ticker(first_step, lambda: events.append("first patch"), spawn=None, report=None),  # type: ignore[arg-type]
               Ticker(lambda: events.append("second"), lambda: events.append("second patch"),
                      spawn=None, report=None),  # type: ignore[arg-type]
               Ticker(lambda: events.append("third"), lambda: events.append("third patch"),
                      spawn=None, report=None)]  # type: ignore[arg-type]
    second.append(tickers[1])
    third.append(tickers[2])
    for ticker in tickers:
        ticker.start(20, 20)
    await asyncio.sleep(0.03)           # one beat, then the third restarted 20 ms later at most
    tickers[0].stop()
    assert events[:2] == ["first", "first patch"], events
    assert "second" not in events and "second patch" not in events
    assert events.count("third") <= 1
    await asyncio.sleep(0.03)
    tickers[2].stop()
    assert events.count("third") >= 1 and events.count("third patch") == events.count("third")
    assert not ticker_module._beats


async def test_an_async_step_delays_the_next_and_its_patch_follows_it() -> None:
    # A simulation that returns an awaitable: its patch is sent when it ends, and
    # the next step waits for it (steps never overlap), then catches up once.
    events: list[str] = []
    running: list[asyncio.Task[None]] = []

    async def slow_step() -> None:
        events.append("start")
        await asyncio.sleep(0.035)          # longer than the 10 ms period
        events.append("end")

    def simulate() -> Any:
        return slow_step()

    def spawn(coro: Any, what: str) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        running.append(task)
        return task

    ticker = Ticker(simulate, lambda: events.append("patch"), spawn=spawn, report=None)  # type: ignore[arg-type]
    ticker.start(10, 10)
    await asyncio.sleep(0.2)
    ticker.stop()
    steps = events.count("start")
    assert 3 <= steps <= 6, events          # about 0.2 s / 45 ms, not 0.2 s / 10 ms
    # each step: start, end, then its patch, before the next starts (the last
    # one may have been stopped midway)
    assert events[:3 * (steps - 1)] == ["start", "end", "patch"] * (steps - 1), events
    await asyncio.sleep(0)
    assert all(task.done() for task in running)     # stop() ended the step in progress


async def test_a_step_that_raises_leaves_the_other_tickers_of_its_beat_alone() -> None:
    events: list[str] = []
    reported: list[tuple[str, str]] = []

    def failing() -> None:
        raise ValueError("boom")

    def failing_patch() -> None:
        raise KeyError("patch")

    tickers = [Ticker(lambda: events.append("a"), lambda: events.append("a patch"), spawn=None,  # type: ignore[arg-type]
                      report=lambda e, where: reported.append((type(e).__name__, where))),
               Ticker(failing, failing_patch, spawn=None,  # type: ignore[arg-type]
                      report=lambda e, where: reported.append((type(e).__name__, where))),
               Ticker(lambda: events.append("c"), lambda: events.append("c patch"), spawn=None,  # type: ignore[arg-type]
                      report=lambda e, where: reported.append((type(e).__name__, where)))]
    for ticker in tickers:
        ticker.start(10, 10)
    await asyncio.sleep(0.1)
    for ticker in tickers:
        ticker.stop()
    # (started a moment apart, they may fall on neighbouring beats: one step apart at the end)
    steps = events.count("a")
    failures = reported.count(("ValueError", "simulation interval"))
    assert steps >= 5
    assert abs(events.count("c") - steps) <= 1 and abs(failures - steps) <= 1
    assert events.count("a patch") == steps and events.count("c patch") == events.count("c")
    assert reported.count(("KeyError", "patch")) == failures
    assert len(reported) == 2 * failures


async def test_simulation_and_patches_of_other_periods_each_keep_their_own_rate(beat_times: list[float]) -> None:
    # A 16.6 ms simulation with 50 ms patches (the defaults of a room with a
    # simulation): each runs on its own grid, at a fixed lateness, so the beats
    # they run in are exactly a period apart (rounding the patch to the
    # simulation's grid would move it by 8.3 ms now and then).
    sims: list[float] = []
    patches: list[float] = []
    ticker = Ticker(lambda: sims.append(beat_times[-1]), lambda: patches.append(beat_times[-1]),
                    spawn=None, report=None)  # type: ignore[arg-type]
    ticker.start(16.6, 50)
    await asyncio.sleep(1.2)
    ticker.stop()

    def exact(times: list[float], period: float) -> int:
        return sum(abs(b - a - period) < 1e-6 for a, b in zip(times, times[1:]))

    assert len(patches) >= 20 and len(sims) >= 60
    # (a loop stalled past a period catches up once, at a new lateness: allow one)
    assert exact(patches, 0.05) >= len(patches) - 2, patches
    assert exact(sims, 0.0166) >= len(sims) - 2, sims
