"""The playground at /playground: the real colyseus.js in a real headless Chromium joins our rooms."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pyseus.client import Client
from pyseus.server import Server, playground
from tests.server.conftest import ARTIFACTS, Browser

TESTS = Path(__file__).resolve().parents[1]




async def _join_from_page(browser: Browser, room_type: str, options: dict[str, Any], cards: int) -> str:
    """Join with the page's form; the session id of the new client card (the newest is first)."""
    await browser("select", selector="#room-type", value=room_type)
    await browser("fill", selector="#options", value=json.dumps(options))
    await browser("click", selector="#join-or-create")
    await browser("waitAttribute", selector=f".client:nth-child(1):nth-last-child({cards})", name="class",
                  value="client")
    return str(await browser("text", selector=".client .session-id"))


async def test_the_page_joins_rooms_and_shows_state_messages_and_patches(tools_server: Server,
                                                                        browser: Browser) -> None:
    base = f"http://127.0.0.1:{tools_server.port}"
    await browser("open", url=f"{base}/playground")
    await browser("waitAttribute", selector="body", name="data-ready", value="yes")
    assert "colyseus.js 0.16.22" in await browser("text", selector="#client-version")

    # join state_room from the page: the server has that client, the page shows its state
    ann = await _join_from_page(browser, "state_room", {"name": "Ann"}, cards=1)
    card = f'.client[data-session-id="{ann}"]'
    await browser("waitText", selector=f"{card} .state", text='"Ann"')
    (engine,) = tools_server.matchmaker.engines.values()
    assert engine.room.clients.get(ann) is not None
    await browser("waitText", selector=f"{card} .patches li", text="full state")

    async with Client(base) as python_side:
        # another client's move reaches the page as a patch, with what changed
        bob = await python_side.join_or_create("state_room", {"name": "Bob"})
        assert bob.room_id == engine.room_id
        bob.send("move", {"x": 3, "y": 4})
        await browser("waitText", selector=f"{card} .patches li", text=f"players.{bob.session_id}.x = 3")
        await browser("waitText", selector=f"{card} .state", text='"x": 3')

        # a message sent from the page reaches the room
        await browser("fill", selector=f"{card} .message-type", value="move")
        await browser("fill", selector=f"{card} .message-body", value='{"x": 7, "y": 8}')
        await browser("click", selector=f"{card} .send")
        await browser("waitText", selector=f"{card} .messages li.sent", text='"move" {"x":7,"y":8}')
        for _ in range(20):
            await bob.wait_for_next_patch()
            if bob.state.players[ann].x == 7:
                break
        assert (bob.state.players[ann].x, bob.state.players[ann].y) == (7, 8)
        await browser("screenshot", file=str(ARTIFACTS / "playground-state.png"))

        # a second client, into the same room through the room list's join button
        await browser("waitText", selector="#rooms td", text=engine.room_id)
        await browser("click", selector=f'#rooms tr[data-room-id="{engine.room_id}"] button.join')
        await browser("waitAttribute", selector=".client:nth-child(1):nth-last-child(2)", name="class", value="client")
        second = str(await browser("text", selector=".client .session-id"))
        assert second != ann and engine.room.clients.get(second) is not None

        # messages both ways in the chat room
        carol = await _join_from_page(browser, "chat", {}, cards=3)
        chat_card = f'.client[data-session-id="{carol}"]'
        chat = await python_side.join_or_create("chat")
        said: list[Any] = []
        chat.on_message("message", said.append)
        await browser("waitText", selector=f"{chat_card} .messages li", text=f"{chat.session_id} joined")
        chat.send("message", {"text": "hello from python"})
        await browser("waitText", selector=f"{chat_card} .messages li", text="hello from python")
        await browser("fill", selector=f"{chat_card} .message-type", value="message")
        await browser("fill", selector=f"{chat_card} .message-body", value='{"text": "hi from the browser"}')
        await browser("click", selector=f"{chat_card} .send")
        for _ in range(50):
            if any(m["text"] == "hi from the browser" for m in said):
                break
            await asyncio.sleep(0.1)
        assert {"from": carol, "text": "hi from the browser"} in said
        await browser("screenshot", file=str(ARTIFACTS / "playground-chat.png"))

        # leave from the page: a consented leave, and the player is gone from the state
        await browser("click", selector=f"{card} .leave")
        await browser("waitText", selector=f"{card} .status", text="left (close code 4000)")
        for _ in range(20):
            if ann not in bob.state.players:
                break
            await bob.wait_for_next_patch()
        assert ann not in bob.state.players and engine.room.clients.get(ann) is None
    assert await browser("errors") == []


async def test_it_serves_the_pinned_colyseus_js_and_the_room_types(tools_server: Server) -> None:
    lock = json.loads((TESTS / "package-lock.json").read_text())["packages"]["node_modules/colyseus.js"]
    pin = json.loads((playground.BROWSER_CLIENT.parents[1] / "browser-client.json").read_text())
    assert (pin["version"], pin["integrity"]) == (lock["version"], lock["integrity"])
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{tools_server.port}/playground/colyseus.js") as resp:
            assert resp.status == 200 and resp.content_type == "text/javascript"
            served_bytes = await resp.read()
        async with http.get(f"http://127.0.0.1:{tools_server.port}/playground/api/rooms") as resp:
            listing = await resp.json()
    # the very file npm installs for the tests (same version, same integrity as the pin)
    assert served_bytes == (TESTS / "node_modules" / "colyseus.js" / "dist" / "colyseus.js").read_bytes()
    assert listing["roomTypes"] == ["chat", "state_room"] and listing["rooms"] == []
    assert listing["client"] == {"package": "colyseus.js", "version": "0.16.22", "bundled": True, "missing": None}


async def test_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = Server()
    await plain.serve("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            for path in ("/playground", "/playground/colyseus.js", "/playground/api/rooms"):
                async with http.get(f"http://127.0.0.1:{plain.port}{path}") as resp:
                    assert resp.status == 404
    finally:
        await plain.shutdown()


async def test_a_build_without_the_bundle_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                             browser: Browser) -> None:
    monkeypatch.setattr(playground, "BROWSER_CLIENT", tmp_path / "colyseus.js")
    server = Server(playground=True)
    await server.serve("127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.port}/playground"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/colyseus.js") as resp:
                assert resp.status == 404 and "PYSEUS_BROWSER_CLIENT_TGZ" in await resp.text()
        await browser("open", url=base)
        await browser("waitText", selector="#error", text="was not bundled when pyseus was built")
        assert await browser("errors") == []
    finally:
        await server.shutdown()
