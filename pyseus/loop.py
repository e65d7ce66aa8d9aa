"""Choosing the event loop a server or a load test runs on."""
from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["event_loop_factory", "LOOPS"]

LOOPS = ("auto", "asyncio", "uvloop")


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
