"""``pyseus serve module:attr [--reload]``: the user's own server, its HTTP routes, and restarts."""
from __future__ import annotations

import asyncio
import base64
import os
import signal
import sys
import textwrap
from pathlib import Path

import aiohttp
import pytest

from pyseus.client import Client
from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]

APP = '''
from pathlib import Path
from aiohttp import web
from pyseus.server import Room, Server

from rooms import Echo

server = Server()
server.define("echo", Echo)

async def health(request):
    return web.json_response({"ok": True, "rooms": len(server.matchmaker.rooms)})

server.app.router.add_get("/health", health)
server.app.router.add_static("/static/", Path(__file__).with_name("public"))

def make(protocol="auto"):
    built = Server(protocol=protocol)
    built.define("echo", Echo)
    return built
'''

ROOMS = '''
from pyseus.server import Room

class Echo(Room):
    def on_create(self, options):
        self.on_message("hi", lambda client, message: client.send("hi", "{reply}"))
'''


def _write_app(folder: Path, reply: str) -> None:
    (folder / "public").mkdir(exist_ok=True)
    (folder / "public" / "index.html").write_text("<h1>game</h1>")
    (folder / "app.py").write_text(textwrap.dedent(APP))
    (folder / "rooms.py").write_text(textwrap.dedent(ROOMS).replace("{reply}", reply))


async def _start(folder: Path, *args: str) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyseus.server", *args, "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "WARNING", cwd=folder, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            assert proc.returncode is None, (await proc.stdout.read()).decode()  # type: ignore[union-attr]
            try:
                async with http.get(f"{base}/matchmake/echo") as resp:
                    if resp.status == 200:
                        return proc, base
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("the server did not start")


async def _stop(proc: asyncio.subprocess.Process) -> str:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
    return (await proc.stdout.read()).decode(errors="replace")     # type: ignore[union-attr]


async def test_a_server_of_your_own_with_routes_and_static_files(tmp_path: Path) -> None:
    _write_app(tmp_path, "v1")
    proc, base = await _start(tmp_path, "app:server", "--monitor-password", "pw")
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/health") as resp:
                assert resp.status == 200 and await resp.json() == {"ok": True, "rooms": 0}
            async with http.get(f"{base}/monitor/api/rooms") as resp:
                assert resp.status == 401
            async with http.get(f"{base}/monitor/api/rooms",
                                headers={"Authorization": "Basic " + base64.b64encode(b"me:pw").decode()}) as resp:
                assert resp.status == 200 and await resp.json() == []
            async with http.get(f"{base}/static/index.html") as resp:
                assert resp.status == 200 and await resp.text() == "<h1>game</h1>"
            async with http.get(f"{base}/playground/api/rooms") as resp:
                assert resp.status == 404           # (not without --playground or --dev)
        async with Client(base) as client:
            room = await client.join_or_create("echo")
            room.send("hi")
            assert await room.wait_for_message("hi") == "v1"
    finally:
        output = await _stop(proc)
    assert proc.returncode == 0 and "Traceback" not in output, output


@pytest.mark.parametrize("flag", ["--playground", "--dev"])
async def test_the_playground_flags(tmp_path: Path, flag: str) -> None:
    _write_app(tmp_path, "v1")
    proc, base = await _start(tmp_path, "app:make", flag)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/playground/api/rooms") as resp:
                assert resp.status == 200 and (await resp.json())["roomTypes"] == ["echo"]
    finally:
        output = await _stop(proc)
    assert proc.returncode == 0 and "Traceback" not in output, output


async def test_a_factory_gets_the_flags_and_a_built_server_refuses_them(tmp_path: Path) -> None:
    _write_app(tmp_path, "v1")
    proc, base = await _start(tmp_path, "app:make", "--protocol", "0.16")
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/matchmake/joinOrCreate/echo", json={}) as resp:
                body = await resp.json()
        assert "room" in body and "roomId" not in body          # the 0.16 seat reservation only
    finally:
        await _stop(proc)
    refused = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyseus.server", "app:server", "--protocol", "0.16", "--port", str(free_port()),
        cwd=tmp_path, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(refused.communicate(), 30)
    assert refused.returncode == 1 and "set protocol where it is created" in err.decode()
    for spec, message in (("nosuch:server", "cannot import 'nosuch'"), ("app:nothing", "no attribute 'nothing'"),
                          ("app", "expected module:attr"), ("app:Path", "returned")):
        bad = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pyseus.server", spec, "--port", str(free_port()), cwd=tmp_path,
            stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(bad.communicate(), 30)
        assert bad.returncode == 1 and message in err.decode(), (spec, err)


async def test_reload_restarts_on_a_change_and_clients_may_reconnect(tmp_path: Path) -> None:
    _write_app(tmp_path, "v1")
    proc, base = await _start(tmp_path, "app:server", "--reload")
    try:
        async with Client(base) as client:
            room = await client.join_or_create("echo")
            room.send("hi")
            assert await room.wait_for_message("hi") == "v1"
            codes: list[int] = []
            room.on_drop(codes.append)
            room.on_leave(codes.append)
            await asyncio.sleep(1.1)            # (a later modification time than the first version)
            _write_app(tmp_path, "v2")
            for _ in range(200):
                if codes:
                    break
                await asyncio.sleep(0.05)
            assert codes and codes[0] == 4010       # the old process said "try to reconnect"
            for _ in range(300):
                try:
                    again = await client.join_or_create("echo")
                    break
                except Exception:
                    await asyncio.sleep(0.1)
            again.send("hi")
            assert await again.wait_for_message("hi") == "v2"
    finally:
        output = await _stop(proc)
    assert proc.returncode == 0, output
    assert "changed: restarting" in output and "Traceback" not in output, output
