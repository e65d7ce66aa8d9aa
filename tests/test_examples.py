"""examples/canvas: the room and its page, served as README says (pyseus serve examples.canvas.app:server)."""
from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from pyseus.client import Client
from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parents[1]


async def test_the_canvas_example_serves_its_page_and_players_move() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyseus.server", "examples.canvas.app:server", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "WARNING", cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{base}/") as resp:
                        page = await resp.text()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            assert '<canvas id="field"' in page and 'joinOrCreate("canvas")' in page
        async with Client(base) as one, Client(base) as two:
            a = await one.join_or_create("canvas")
            b = await two.join_or_create("canvas")
            assert a.room_id == b.room_id
            a.send("goto", {"x": 100, "y": 50})
            a.send("move", {"dx": 1, "dy": 0})

            async def position() -> tuple[int, int, str]:
                await b.wait_for_next_patch()
                me = b.state.to_json().get("players", {}).get(a.session_id, {})
                return me.get("x"), me.get("y"), me.get("color", "")
            for _ in range(100):
                x, y, color = await position()
                if (x, y) == (108, 50):
                    break
            assert (x, y) == (108, 50) and color.startswith("#")
            a.send("goto", {"x": 10_000, "y": -5})          # (kept on the field)
            for _ in range(100):
                x, y, _ = await position()
                if (x, y) == (640, 0):
                    break
            assert (x, y) == (640, 0)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 20)
    assert proc.returncode == 0
