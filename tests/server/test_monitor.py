"""The monitor at /monitor: its JSON API, its password, and its page in a real headless Chromium."""
from __future__ import annotations

import base64
from typing import Any

import aiohttp
import aiohttp.web
import pytest

from pyseus.client import Client
from pyseus.server import Server
from pyseus.server.demo import define_demo_rooms
from tests.server.conftest import ARTIFACTS, Browser




async def test_the_page_shows_rooms_clients_and_state_and_its_actions_work(tools_server: Server,
                                                                           browser: Browser) -> None:
    base = f"http://127.0.0.1:{tools_server.port}"
    async with Client(base) as ann_side, Client(base) as bob_side:
        ann = await ann_side.join_or_create("state_room", {"name": "Ann"})
        await browser("open", url=f"{base}/monitor")
        await browser("waitText", selector="#rooms td", text=ann.room_id)
        await browser("click", selector="tr.room", text=ann.room_id)
        await browser("waitText", selector="#clients td", text=ann.session_id)
        await browser("waitText", selector="#state", text='"Ann"')
        bob = await bob_side.join_or_create("state_room", {"name": "Bob"})
        await browser("waitText", selector="#clients td", text=bob.session_id)
        ann.send("move", {"x": 3, "y": 4})
        await browser("waitText", selector="#state", text='"x": 3')
        await browser("screenshot", file=str(ARTIFACTS / "monitor-room.png"))
        await bob.leave()
        await browser("waitGone", selector="#clients td", text=bob.session_id)
        # disconnect a client from the page: it is closed as a consented leave
        await browser("click", selector=f'tr[data-session-id="{ann.session_id}"] button.disconnect')
        assert await ann.wait_for_leave() == 4000
        # dispose a room from the page
        chat = await ann_side.join_or_create("chat")
        await browser("waitText", selector="#rooms td", text=chat.room_id)
        await browser("click", selector="tr.room", text=chat.room_id)
        await browser("waitText", selector="#clients td", text=chat.session_id)
        await browser("screenshot", file=str(ARTIFACTS / "monitor-chat.png"))
        await browser("click", selector="#dispose")
        assert await chat.wait_for_leave() == 4000
        await browser("waitGone", selector="#rooms td", text=chat.room_id)
        assert chat.room_id not in tools_server.matchmaker.engines
    assert await browser("errors") == []


async def test_a_password_guards_the_page_and_the_api() -> None:
    server = Server(monitor_password="s3cret")
    define_demo_rooms(server)
    await server.serve("127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.port}/monitor"
    try:
        def basic(password: str) -> dict[str, str]:
            return {"Authorization": "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()}
        async with aiohttp.ClientSession() as http:
            for path in ("", "/api/rooms"):
                async with http.get(base + path) as resp:
                    assert resp.status == 401 and resp.headers["WWW-Authenticate"].startswith("Basic")
                async with http.get(base + path, headers=basic("wrong")) as resp:
                    assert resp.status == 401
                async with http.get(base + path, headers=basic("s3cret")) as resp:
                    assert resp.status == 200
            async with http.post(base + "/api/rooms/nosuch/dispose", headers=basic("s3cret")) as resp:
                assert resp.status == 404
            async with http.get(base + "/api/rooms", headers={"Authorization": "Basic !!!"}) as resp:
                assert resp.status == 401
    finally:
        await server.shutdown()


async def test_off_by_default_and_a_check_of_your_own() -> None:
    plain = Server()
    await plain.serve("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{plain.port}/monitor/api/rooms") as resp:
                assert resp.status == 404
    finally:
        await plain.shutdown()

    async def only_admins(request: Any) -> bool:
        return request.headers.get("X-Role") == "admin"
    guarded = Server(monitor_auth=only_admins)
    await guarded.serve("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{guarded.port}/monitor/api/rooms"
            async with http.get(url) as resp:
                assert resp.status == 401
            async with http.get(url, headers={"X-Role": "admin"}) as resp:
                assert resp.status == 200 and await resp.json() == []
    finally:
        await guarded.shutdown()


async def test_the_monitor_and_routes_of_your_own_share_the_rate_limit() -> None:
    from pyseus.server import Limits
    server = Server(monitor_password="pw", limits=Limits(requests_per_second=1, request_burst=3, rate_limit_exempt=()))

    async def hello(request: Any) -> Any:
        return aiohttp.web.Response(text="hi")
    server.app.router.add_get("/hello", hello)
    await server.serve("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            statuses = []
            for path in ("/monitor/api/rooms", "/hello") * 3:      # (password guesses, too)
                async with http.get(f"http://127.0.0.1:{server.port}{path}") as resp:
                    statuses.append(resp.status)
        assert statuses[:3] == [401, 200, 401] and set(statuses[3:]) == {429}
    finally:
        await server.shutdown()
