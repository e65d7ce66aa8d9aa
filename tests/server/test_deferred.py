"""Deferred: what allow_reconnection returns."""
from __future__ import annotations

import asyncio

import pytest

from pyseus.server import Deferred, ReconnectionRejected


async def test_resolve() -> None:
    d: Deferred[str] = Deferred()
    asyncio.get_running_loop().call_soon(d.resolve, "client")
    assert await d == "client"
    assert d.done and not d.rejected
    d.reject("late")                    # settled already: ignored
    assert await d == "client"


async def test_reject_with_and_without_a_reason() -> None:
    d: Deferred[str] = Deferred()
    d.reject("timeout")
    assert d.done and d.rejected
    with pytest.raises(ReconnectionRejected) as e:
        await d
    assert e.value.reason == "timeout"
    d.resolve("late")
    assert d.rejected
    plain: Deferred[str] = Deferred()
    plain.reject()
    with pytest.raises(ReconnectionRejected) as e:
        await plain
    assert e.value.reason is None


async def test_an_unawaited_rejection_is_not_reported(caplog: pytest.LogCaptureFixture) -> None:
    d: Deferred[int] = Deferred()
    d.reject("nobody waits")
    del d
    import gc
    gc.collect()
    await asyncio.sleep(0)
    assert "never retrieved" not in caplog.text
