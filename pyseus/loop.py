"""Choosing the event loop a server or a load test runs on."""
from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["event_loop_factory", "LOOPS", "TIMER_SLACK"]

LOOPS = ("auto", "asyncio", "uvloop")

#: How early a loop may run a timer, in seconds. uvloop counts its clock and
#: timer delays in whole milliseconds, so a timer can run up to a millisecond
#: before the time it was set for; code that checks whether something is due
#: counts this much as due, or it would set a timer for the remaining instant,
#: get woken as early again, and spin until the clock moves on.
TIMER_SLACK = 0.001


def event_loop_factory(loop: str = "auto") -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory of the event loop to run on (for ``asyncio.Runner``):
    ``"asyncio"`` (the standard loop: None here), ``"uvloop"`` (faster socket I/O;
    installed with pyseus on Linux and macOS), or ``"auto"`` (uvloop when it is
    installed)."""
    if loop not in LOOPS:
        raise ValueError(f'loop must be "auto", "asyncio" or "uvloop", not {loop!r}')
    if loop == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if loop == "uvloop":
            raise RuntimeError('loop="uvloop" needs the uvloop package (pip install uvloop)') from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory
