"""A server that means harm: the client refuses what it sends, quickly and with its own errors."""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from pyseus import protocol
from pyseus.client import Client, MatchMakeError
from pyseus.schema import Encoder
from pyseus.schema.reflection import _Reflection, _ReflectionField, _ReflectionType


def _chain(depth: int) -> bytes:
    r = _Reflection()
    for i in range(depth):
        t = _ReflectionType(id=i)
        if i:
            t.extends_id = i - 1
        r.types.append(t)
    r.root_type = depth - 1
    return Encoder(r).encode_all()


def _bad_name() -> bytes:
    r = _Reflection()
    t = _ReflectionType(id=0)
    t.fields.append(_ReflectionField(name="not-a-name", type="number"))
    r.types.append(t)
    return Encoder(r).encode_all()


@pytest.fixture
async def hostile() -> AsyncIterator[Callable[..., object]]:
    """``await hostile(first_frame=..., answer=...)``: the endpoint of a fake server whose
    matchmaking answers ``answer`` (bytes) or a seat, and whose room socket sends
    ``first_frame``."""
    runners: list[web.AppRunner] = []

    async def start(first_frame: bytes = b"", answer: bytes | None = None) -> str:
        async def matchmake(request: web.Request) -> web.StreamResponse:
            if answer is not None:
                return web.Response(body=answer, content_type="application/json")
            return web.json_response({"room": {"name": "x", "roomId": "r1", "processId": "p1"}, "sessionId": "s1"})

        async def socket(request: web.Request) -> web.StreamResponse:
            ws = web.WebSocketResponse(max_msg_size=0)
            await ws.prepare(request)
            await ws.send_bytes(first_frame)
            async for _ in ws:
                pass
            return ws

        app = web.Application()
        app.router.add_post("/matchmake/{method}/{name}", matchmake)
        app.router.add_get("/{process}/{room}", socket)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"   # type: ignore[union-attr]
    yield start
    for runner in runners:
        await runner.cleanup()


async def _join(endpoint: str, **client_options: object) -> Exception:
    start = time.monotonic()
    async with Client(endpoint, timeout=5, **client_options) as client:   # type: ignore[arg-type]
        with pytest.raises(MatchMakeError) as info:
            await client.join_or_create("x")
    assert time.monotonic() - start < 2.0
    return info.value


async def test_a_frame_above_the_cap_closes_the_socket(hostile) -> None:
    endpoint = await hostile(first_frame=protocol.join_room("t", "schema", b"\x80" * 200_000))
    error = await _join(endpoint, max_frame_size=64 * 1024)
    assert error.code == 1009


async def test_a_handshake_with_a_deep_class_chain_is_refused_quickly(hostile) -> None:
    endpoint = await hostile(first_frame=protocol.join_room("t", "schema", _chain(1000)))
    error = await _join(endpoint)
    assert "unreadable state handshake" in str(error) and "levels deep" in str(error)


async def test_a_handshake_with_a_bad_field_name_is_a_decode_error(hostile) -> None:
    endpoint = await hostile(first_frame=protocol.join_room("t", "schema", _bad_name()))
    error = await _join(endpoint)
    assert "unreadable state handshake" in str(error) and "not-a-name" in str(error)


async def test_a_huge_matchmaking_answer_is_refused(hostile) -> None:
    endpoint = await hostile(answer=b'{"pad":"' + b"x" * (3 << 20) + b'"}')
    error = await _join(endpoint, max_frame_size=1 << 20)
    assert "larger than max_frame_size" in str(error)


async def test_garbage_frames_do_not_break_the_client(hostile) -> None:
    endpoint = await hostile(first_frame=bytes(range(256)) * 4)
    started = asyncio.get_running_loop().time()
    async with Client(endpoint, timeout=1) as client:
        with pytest.raises((MatchMakeError, TimeoutError)):
            await client.join_or_create("x")
    assert asyncio.get_running_loop().time() - started < 3
