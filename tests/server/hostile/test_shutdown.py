"""Shutting down while room hooks hang: the deadline holds, and a second signal exits at once."""
from __future__ import annotations

import asyncio
import re
import signal
import sys
import time
from typing import Any

from pyseus.server import Limits, Room
from tests.node import TESTS_DIR
from tests.server.raw import join


class App:
    """``tests/server/hostile/hanging_app.py`` in a process of its own."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.port = port
        self.log = ""
        self.sock: Any = None

    @classmethod
    async def start(cls, mode: str, timeout: float) -> App:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.server.hostile.hanging_app", mode, str(timeout), cwd=TESTS_DIR.parent,
            stderr=asyncio.subprocess.PIPE)
        assert proc.stderr is not None
        seen = b""
        while b"listening on" not in seen:
            line = await asyncio.wait_for(proc.stderr.readline(), 15)
            assert line, seen.decode()
            seen += line
        port = int(re.search(rb"listening on 127\.0\.0\.1:(\d+)", seen).group(1))      # type: ignore[union-attr]
        app = cls(proc, port)
        app.log = seen.decode()
        return app

    async def joined_client(self) -> str:
        self.sock, seat = await join(f"http://127.0.0.1:{self.port}", "hanging")
        return str(seat["sessionId"])

    async def exit_code(self, timeout: float) -> int:
        assert self.proc.stderr is not None
        rest = await asyncio.wait_for(self.proc.stderr.read(), timeout)
        self.log += rest.decode()
        return await asyncio.wait_for(self.proc.wait(), 1)

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self.sock is not None:
            await self.sock.session.close()


async def test_the_shutdown_deadline_holds_and_lists_what_did_not_finish() -> None:
    app = await App.start("async", 1.0)
    try:
        session = await app.joined_client()
        start = time.monotonic()
        app.proc.send_signal(signal.SIGTERM)
        assert await app.exit_code(5) == 0
        assert time.monotonic() - start < 3.0
        assert "did not finish within 1.0 s" in app.log and f"on_leave({session})" in app.log
    finally:
        await app.kill()


async def test_a_second_signal_exits_at_once() -> None:
    app = await App.start("async", 60)
    try:
        await app.joined_client()
        app.proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        assert app.proc.returncode is None          # waiting for the hanging on_leave
        start = time.monotonic()
        app.proc.send_signal(signal.SIGINT)
        assert await app.exit_code(5) == 128 + signal.SIGINT
        assert time.monotonic() - start < 1.0
        assert "SIGINT again: exiting now" in app.log
    finally:
        await app.kill()


async def test_a_loop_blocked_by_a_hook_still_exits_after_the_deadline() -> None:
    app = await App.start("blocking", 1.0)
    try:
        await app.joined_client()
        start = time.monotonic()
        app.proc.send_signal(signal.SIGTERM)
        assert await app.exit_code(15) == 1
        assert 5.5 < time.monotonic() - start < 9.0      # the deadline, then 5 s of grace
        assert "still blocked" in app.log
    finally:
        await app.kill()


class Stuck(Room[Any]):
    async def on_dispose(self) -> None:
        await asyncio.sleep(3600)


async def test_an_embedded_shutdown_returns_after_the_deadline(start_server, caplog) -> None:
    server = await start_server({"stuck": Stuck}, limits=Limits(shutdown_timeout=0.5))
    room = await server.create_room("stuck")
    start = time.monotonic()
    await asyncio.wait_for(server.shutdown(), 5)
    assert time.monotonic() - start < 2.0
    # (on_before_shutdown is waiting for the room to dispose)
    assert f"Still running: room {room.room_id} (stuck): on_before_shutdown, on_dispose" in caplog.text
