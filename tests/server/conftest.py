"""Fixtures for the server tests: our Server on 127.0.0.1, and the real client SDKs
(tests/interop/js_client.mjs: colyseus.js 0.16.22, @colyseus/sdk 0.17.43 and 0.18.4)
driven from Python."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
import uvloop

from pyseus.protocol import generations
from pyseus.server import Server
from tests.node import AsyncNodeScript
from tests.redis_server import RedisServer


class JSError(Exception):
    """An error the JS client raised (MatchMakeError, ServerError...)."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('name')}({error.get('code')}): {error.get('message')}")
        self.name = error.get("name")
        self.code = error.get("code")
        self.message = error.get("message")


class JS:
    """The colyseus.js driver process."""

    def __init__(self, node: AsyncNodeScript) -> None:
        self.node = node

    async def call(self, cmd: str, timeout: float | None = None, **args: Any) -> Any:
        reply = await self.node.request(cmd, timeout=timeout, **args)
        if not reply["ok"]:
            raise JSError(reply["error"])
        return reply["result"]

    async def client(self, endpoint: str, token: str | None = None, headers: dict[str, str] | None = None) -> JSClient:
        return JSClient(self, await self.call("client.new", endpoint=endpoint, token=token, headers=headers))


class JSClient:
    def __init__(self, js: JS, handle: str) -> None:
        self.js = js
        self.handle = handle

    async def _room(self, method: str, *args: Any) -> JSRoom:
        return JSRoom(self.js, await self.js.call("client.call", client=self.handle, method=method, args=list(args)))

    async def join_or_create(self, name: str, options: dict[str, Any] | None = None) -> JSRoom:
        return await self._room("joinOrCreate", name, options or {})

    async def create(self, name: str, options: dict[str, Any] | None = None) -> JSRoom:
        return await self._room("create", name, options or {})

    async def join(self, name: str, options: dict[str, Any] | None = None) -> JSRoom:
        return await self._room("join", name, options or {})

    async def latency(self) -> float:
        """client.getLatency() (0.17+)."""
        return float(await self.js.call("client.latency", client=self.handle))

    async def join_by_id(self, room_id: str, options: dict[str, Any] | None = None) -> JSRoom:
        return await self._room("joinById", room_id, options or {})

    async def reconnect(self, token: str) -> JSRoom:
        return await self._room("reconnect", token)

    async def race(self, method: str, count: int, *args: Any) -> list[dict[str, Any]]:
        return await self.js.call("client.race", client=self.handle, method=method, args=list(args), count=count)


class JSRoom:
    def __init__(self, js: JS, handle: str) -> None:
        self.js = js
        self.handle = handle

    async def info(self) -> dict[str, Any]:
        return await self.js.call("room.info", room=self.handle)

    async def send(self, type: str | int, message: Any = None, *, omit: bool = False) -> None:
        await self.js.call("room.send", room=self.handle, type=type, message=message, omit=omit or message is None)

    async def send_bytes(self, type: str | int, data: bytes) -> None:
        await self.js.call("room.sendBytes", room=self.handle, type=type, bytes=list(data))

    async def send_raw(self, data: bytes) -> None:
        await self.js.call("room.sendRaw", room=self.handle, bytes=list(data))

    async def leave(self, consented: bool = True) -> Any:
        return await self.js.call("room.leave", room=self.handle, consented=consented)

    async def drop(self) -> None:
        await self.js.call("room.drop", room=self.handle)

    async def terminate(self) -> None:
        """The network goes away (no close frame: 1006; 0.17+ clients reconnect by themselves)."""
        await self.js.call("room.terminate", room=self.handle)

    async def ping(self) -> float:
        """room.ping() (0.17+): the round trip in ms."""
        return float(await self.js.call("room.ping", room=self.handle))

    async def request(self, type: str | int, message: Any = None, timeout_ms: int | None = None) -> dict[str, Any]:
        """room.request() (0.18): {"ok": True, "value"} or {"ok": False, "error": {name, message, code...}}."""
        return await self.js.call("room.request", room=self.handle, type=type, message=message, timeout=timeout_ms)

    async def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        events = await self.js.call("room.events", room=self.handle)
        return [e for e in events if kind is None or e["kind"] == kind]

    async def wait(self, timeout: float = 5.0, **want: Any) -> dict[str, Any]:
        """The first recorded event with these fields (``kind="message", type="x"``...)."""
        return await self.js.call("room.wait", timeout=timeout + 2, room=self.handle, want=want,
                                  ms=int(timeout * 1000))


@pytest.fixture
async def js():
    """colyseus.js 0.16.22."""
    node = await AsyncNodeScript.start("interop/js_client.mjs", "0.16")
    try:
        yield JS(node)
    finally:
        await node.close()


@pytest.fixture
async def sdk():
    """``await sdk("0.16" | "0.17" | "0.18")``: a driver of that generation's client SDK."""
    started: list[AsyncNodeScript] = []

    async def start(generation: str) -> JS:
        node = await AsyncNodeScript.start("interop/js_client.mjs", generation)
        started.append(node)
        return JS(node)
    try:
        yield start
    finally:
        for node in started:
            await node.close()


@pytest.fixture(params=["0.16", "auto"])
def profile(request: pytest.FixtureRequest) -> str:
    """The 0.16 checklist runs against the exact 0.16 wire and against "auto"."""
    return str(request.param)


@pytest.fixture
async def start_server(start_server, profile: str):
    """The plugin's ``start_server`` (pyseus.testing.pytest_plugin), handing out the ``Server``
    itself (these tests look at its matchmaker and rooms), speaking ``profile``."""
    async def start(rooms: dict[str, Any], **kwargs: Any) -> Server:
        kwargs.setdefault("protocol", profile)
        return (await start_server(rooms, **kwargs)).server
    return start


def seen_code(code: int, profile: str, *, http: bool = False) -> int:
    """The code colyseus.js 0.16 reports for an error the server raised with ``code``:
    the same under "0.16"; under "auto", the 0.17 numbering, and for matchmaking
    (``http``) the HTTP status, which this client takes for the code."""
    if http:
        return generations.http_status(code, profile) if profile != "0.16" else code
    return generations.wire_error_code(code, profile)


def endpoint(server: Server, path: str = "") -> str:
    return f"http://127.0.0.1:{server.port}{path}"


async def eventually(check: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Wait until ``check()`` is truthy (bounded)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a free 127.0.0.1 port, without persistence (one per test module)."""
    server = RedisServer()
    server.start()
    yield server
    server.close()


ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
"""Where the browser tests put their screenshots (kept by CI as artefacts)."""


class Browser:
    """A real headless Chromium (tests/interop/browser.mjs): ``await browser("open", url=...)``."""

    def __init__(self, node: AsyncNodeScript) -> None:
        self.node = node

    async def __call__(self, cmd: str, **args: Any) -> Any:
        reply = await self.node.request(cmd, timeout=30, **args)
        if not reply["ok"]:
            raise AssertionError(f"browser {cmd} {args}: {reply['error']['message']}")
        return reply["result"]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    ARTIFACTS.mkdir(exist_ok=True)
    node = await AsyncNodeScript.start("interop/browser.mjs")
    try:
        yield Browser(node)
    finally:
        await node.close()


@pytest.fixture
async def tools_server() -> AsyncIterator[Server]:
    """The demo rooms, with the monitor and the playground on (no password)."""
    from pyseus.server.demo import define_demo_rooms
    server = Server(monitor=True, playground=True)
    define_demo_rooms(server)
    await server.serve("127.0.0.1", 0)
    yield server
    await server.shutdown()


def counting_loop(base: type[asyncio.AbstractEventLoop], method: str) -> type[asyncio.AbstractEventLoop]:
    """An event loop class that counts the calls of its timer method ``method``
    (``call_at`` or ``call_later``) in ``timers_set``: one per timer a caller set."""

    class Counting(base):  # type: ignore[valid-type,misc]
        timers_set = 0

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        Counting.timers_set += 1
        return getattr(base, method)(self, *args, **kwargs)

    setattr(Counting, method, counted)
    return Counting


# The loops the server runs on (uvloop is a dependency on Linux and macOS; it
# counts time in whole milliseconds).
TIMER_LOOPS = [pytest.param(asyncio.SelectorEventLoop, id="asyncio"), pytest.param(uvloop.Loop, id="uvloop")]
