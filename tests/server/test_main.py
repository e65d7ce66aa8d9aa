"""``python -m pyseus.server``: the bundled server as a process, played by colyseus.js; its CLI errors."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from pyseus.testing import free_port


ROOT = Path(__file__).resolve().parents[2]


async def _wait_listening(base: str, proc: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            if proc.returncode is not None:
                raise AssertionError(f"the server exited with {proc.returncode}")
            try:
                async with http.get(f"{base}/matchmake/state_room") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("the server did not start listening")


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
async def test_bundled_server_demo_rooms_and_sigterm(js, loop: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyseus.server", "--host", "127.0.0.1", "--port", str(port), "--log-level", "INFO",
        "--loop", loop,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        await _wait_listening(base, proc)
        client = await js.client(base)
        a = await client.join_or_create("state_room", {"name": "Ann"})
        b = await client.join_or_create("state_room", {"name": "Bob"})
        a_id = (await a.info())["sessionId"]
        await a.send("move", {"x": 3, "y": 4})

        async def b_sees_ann_moved() -> bool:
            players = ((await b.info())["state"] or {}).get("players", {})
            return players.get(a_id) == {"name": "Ann", "x": 3, "y": 4}
        for _ in range(100):
            if await b_sees_ann_moved():
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the move did not reach the other client")

        chat = await client.join_or_create("chat")
        other = await client.join_or_create("chat")
        await chat.send("message", {"text": "hello"})
        got = await other.wait(kind="message", type="message",
                               message={"from": (await chat.info())["sessionId"], "text": "hello"})
        assert got["message"]["text"] == "hello"

        proc.send_signal(signal.SIGTERM)            # graceful: every client is closed (4001 under "auto")
        assert await asyncio.wait_for(proc.wait(), 15) == 0
        for room in (a, b, chat, other):
            assert (await room.wait(kind="leave"))["code"] == 4001
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    stderr = (await proc.stderr.read()).decode()    # type: ignore[union-attr]
    assert "Traceback" not in stderr, stderr
    assert f"{loop} loop" in stderr


async def _run_cli(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyseus.server", *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, stderr.decode()


async def test_an_unknown_log_level_is_a_one_line_error() -> None:
    code, stderr = await _run_cli("--log-level", "LOUD", "--port", str(free_port()))
    assert code == 2
    assert stderr.splitlines() == [
        "python -m pyseus.server: argument --log-level: unknown level 'LOUD' "
        "(choose from DEBUG, INFO, WARNING, ERROR, CRITICAL) (see --help)"]


async def test_a_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, stderr = await _run_cli("--host", "127.0.0.1", "--port", str(port), "--log-level", "ERROR")
    assert code == 1
    assert stderr.splitlines() == [
        f"python -m pyseus.server: cannot listen on 127.0.0.1:{port}: the port is already in use"]
