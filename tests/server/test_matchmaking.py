"""HTTP matchmaking: conformance checklist items 1-16 (room-protocol.md, section 11),
with the real colyseus.js 0.16.22 client and raw HTTP requests."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from pyseus.protocol import RoomListing
from pyseus.server import LocalDriver, Room, Server, ServerError
from tests.server.conftest import JSError, endpoint, seen_code


class Plain(Room[Any]):
    def on_create(self, options: dict[str, Any]) -> None:
        if options.get("maxClients"):
            self.max_clients = options["maxClients"]


class Recording(Room[Any]):
    created: list[dict[str, Any]] = []
    joined: list[tuple[dict[str, Any], Any]] = []

    def on_create(self, options: dict[str, Any]) -> None:
        Recording.created.append(options)

    def on_join(self, client: Any, options: dict[str, Any], auth: Any = None) -> None:
        Recording.joined.append((options, auth))


async def post(server: Any, path: str, body: bytes = b"{}", headers: dict[str, str] | None = None) -> tuple[
        aiohttp.ClientResponse, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.post(endpoint(server, path), data=body, headers=headers or {}) as resp:
            raw = await resp.read()
            return resp, (json.loads(raw) if raw else None)


async def test_1_max_clients_from_options_splits_rooms(start_server, js) -> None:
    server = await start_server({"r": Plain})
    c = await js.client(endpoint(server))
    a = await (await c.join_or_create("r", {"maxClients": 1})).info()
    b = await (await c.join_or_create("r", {"maxClients": 1})).info()
    assert a["roomId"] != b["roomId"]
    d = await (await c.join_or_create("r")).info()
    e = await (await c.join_or_create("r")).info()
    assert d["roomId"] == e["roomId"] != a["roomId"]


async def test_2_join_without_a_room(start_server, js, profile) -> None:
    server = await start_server({"r": Plain})
    c = await js.client(endpoint(server))
    with pytest.raises(JSError) as info:
        await c.join("r")
    assert info.value.code == seen_code(4211, profile, http=True)
    assert info.value.message == "no rooms found with provided criteria"
    # (0.16 raises MatchMakeError for a 200 with an error, ServerError for an HTTP error status)
    assert info.value.name == ("MatchMakeError" if profile == "0.16" else "ServerError")


async def test_3_unknown_room_name(start_server, js, profile) -> None:
    server = await start_server({"r": Plain})
    c = await js.client(endpoint(server))
    with pytest.raises(JSError) as info:
        await c.join_or_create("nonexisting")
    assert info.value.code == seen_code(4210, profile, http=True) and info.value.message == 'provided room name "nonexisting" not defined'
    resp, body = await post(server, "/matchmake/joinOrCreate/")
    assert (resp.status, body) == (seen_code(4210, profile, http=True) if profile != "0.16" else 200,
                                   {"code": seen_code(4210, profile), "error": 'provided room name "" not defined'})


async def test_4_join_by_unknown_id(start_server, js, profile) -> None:
    server = await start_server({"r": Plain})
    c = await js.client(endpoint(server))
    with pytest.raises(JSError) as info:
        await c.join_by_id("abcdefghi")
    assert info.value.code == seen_code(4212, profile, http=True) and info.value.message == 'room "abcdefghi" not found'


async def test_5_invalid_method(start_server, profile) -> None:
    server = await start_server({"r": Plain})
    resp, body = await post(server, "/matchmake/foo/r")
    assert (resp.status, body) == (seen_code(4210, profile, http=True) if profile != "0.16" else 200,
                                   {"code": seen_code(4210, profile), "error": 'invalid method "foo"'})


async def test_6_non_json_body(start_server, profile) -> None:
    server = await start_server({"r": Plain})
    resp, body = await post(server, "/matchmake/joinOrCreate/r", b"not json")
    assert resp.status == (200 if profile == "0.16" else 400) and resp.content_type == "application/json"
    assert "error" in body and "code" not in body


async def preflight(server: Server, origin: str) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as http:
        async with http.options(endpoint(server, "/matchmake/joinOrCreate/r"), headers={"Origin": origin}) as resp:
            return resp


async def test_7_cors_preflight(start_server, profile) -> None:
    # The reference echoes any origin with credentials; outside dev mode we let any
    # page call matchmaking, but without credentials (see SECURITY.md).
    server = await start_server({"r": Plain})
    resp = await preflight(server, "http://example.test")
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in resp.headers
    assert resp.headers["Access-Control-Allow-Headers"] == \
        "Origin, X-Requested-With, Content-Type, Accept, Authorization"
    assert resp.headers["Access-Control-Allow-Methods"] == (
        "OPTIONS, POST, GET" if profile == "0.16" else "GET,HEAD,PUT,PATCH,POST,DELETE")


async def test_7_cors_dev_mode_echoes_the_origin_with_credentials(start_server) -> None:
    server = await start_server({"r": Plain}, dev_mode=True)
    resp = await preflight(server, "http://example.test")
    assert resp.headers["Access-Control-Allow-Origin"] == "http://example.test"
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"


async def test_7_cors_allowlist(start_server) -> None:
    server = await start_server({"r": Plain}, cors_origins=["https://game.test", "https://*.cdn.test"])
    for origin in ("https://game.test", "https://eu.cdn.test"):
        resp = await preflight(server, origin)
        assert resp.headers["Access-Control-Allow-Origin"] == origin
        assert resp.headers["Access-Control-Allow-Credentials"] == "true"
    for origin in ("https://evil.test", "http://game.test", "https://cdn.test", "https://game.test.evil"):
        resp = await preflight(server, origin)
        assert "Access-Control-Allow-Origin" not in resp.headers, origin
        assert "Access-Control-Allow-Credentials" not in resp.headers


async def test_8_get_lists_public_unlocked_rooms(start_server, js) -> None:
    # The one deliberate difference from Node 0.16 (which answers 404): a JSON list.
    class Lockable(Room[Any]):
        def on_create(self, options: dict[str, Any]) -> None:
            if options.get("private"):
                self.set_private()
            if options.get("locked"):
                self.lock()

    server = await start_server({"r": Lockable, "other": Plain})
    c = await js.client(endpoint(server))
    visible = await (await c.create("r", {"tag": 1})).info()
    await c.create("r", {"private": True})
    await c.create("r", {"locked": True})
    await c.create("other")
    async with aiohttp.ClientSession() as http:
        async with http.get(endpoint(server, "/matchmake/r"), headers={"Origin": "http://o.test"}) as resp:
            assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == "*"
            listings = await resp.json()
        async with http.get(endpoint(server, "/matchmake/")) as resp:
            assert resp.status == 404 and "Access-Control-Allow-Origin" in resp.headers
    assert [item["roomId"] for item in listings] == [visible["roomId"]]
    assert listings[0]["name"] == "r" and listings[0]["clients"] == 1
    assert await server.get_available_rooms("r") == listings


async def test_9_seat_reservation_response(start_server) -> None:
    server = await start_server({"r": Plain})
    resp, body = await post(server, "/matchmake/joinOrCreate/r", b'{"name":"Alice"}')
    assert resp.status == 200 and resp.content_type == "application/json"
    assert resp.headers["Content-Length"] == str(len(json.dumps(body, separators=(",", ":"))))
    room = body["room"]
    assert room["name"] == "r" and len(room["roomId"]) == 9 and room["processId"] == server.process_id
    assert room["clients"] == 1 and room["maxClients"] is None and room["locked"] is False
    assert room["createdAt"].endswith("Z") and len(body["sessionId"]) == 9
    assert set(room["roomId"] + body["sessionId"]) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    assert "devMode" not in body


async def test_10_auth_token_reaches_on_auth_and_its_result_on_join(start_server, js) -> None:
    seen: list[Any] = []

    class Auth(Room[Any]):
        def on_auth(self, client: Any, options: dict[str, Any], request: Any) -> Any:
            seen.append((request.token, request.headers.get("authorization"), request.remote_address))
            return {"userId": 42} if request.token == "good" else False

        def on_join(self, client: Any, options: dict[str, Any], auth: Any = None) -> None:
            seen.append(("join", auth, client.auth))

    server = await start_server({"r": Auth})
    c = await js.client(endpoint(server), token="good")
    await c.join_or_create("r")
    assert seen[0][0] == "good" and seen[0][2] == "127.0.0.1"
    assert seen[1] == ("join", {"userId": 42}, {"userId": 42})


async def test_11_failing_auth_rejects_the_join(start_server, js, profile) -> None:
    class Auth(Room[Any]):
        def on_auth(self, client: Any, options: dict[str, Any], request: Any) -> Any:
            if request.token == "bad":
                raise ServerError(4999, "bad token")
            return False

    server = await start_server({"r": Auth})
    with pytest.raises(JSError) as info:
        await (await js.client(endpoint(server))).join_or_create("r")
    assert (info.value.code, info.value.message) == (seen_code(4215, profile), "onAuth failed")
    with pytest.raises(JSError) as info:
        await (await js.client(endpoint(server), token="bad")).join_or_create("r")
    assert (info.value.code, info.value.message) == (4999, "bad token")


async def test_12_on_create_error_reaches_create(start_server, js, profile) -> None:
    class Failing(Room[Any]):
        def on_create(self, options: dict[str, Any]) -> None:
            if options.get("plain"):
                raise RuntimeError("x")
            raise ServerError(4555, "create failed")

    server = await start_server({"r": Failing})
    c = await js.client(endpoint(server))
    with pytest.raises(JSError) as info:
        await c.create("r")
    assert (info.value.code, info.value.message) == (seen_code(4555, profile, http=True), "create failed")
    with pytest.raises(JSError) as info:
        await c.create("r", {"plain": True})
    # outside dev mode the text of an unexpected exception stays in the log
    assert (info.value.code, info.value.message) == (seen_code(4213, profile, http=True), "internal error")
    assert server.matchmaker.rooms == {}
    dev = await start_server({"r": Failing}, dev_mode=True)
    with pytest.raises(JSError) as info:
        await (await js.client(endpoint(dev))).create("r", {"plain": True})
    assert (info.value.code, info.value.message) == (seen_code(4213, profile, http=True), "x")


async def test_13_define_options_override_client_options_in_on_create_only(start_server, js) -> None:
    Recording.created.clear()
    Recording.joined.clear()
    server = await start_server({"opts": (Recording, {"mode": "server", "serverOnly": True})})
    c = await js.client(endpoint(server))
    await c.join_or_create("opts", {"mode": "client", "x": 1})
    assert Recording.created == [{"mode": "server", "x": 1, "serverOnly": True}]
    assert Recording.joined == [({"mode": "client", "x": 1}, None)]


async def test_14_filter_by(start_server, js) -> None:
    server = await start_server({})
    server.define("r", Plain).filter_by(["mode"])
    c = await js.client(endpoint(server))
    a1 = await (await c.join_or_create("r", {"mode": "a"})).info()
    a2 = await (await c.join_or_create("r", {"mode": "a"})).info()
    b = await (await c.join_or_create("r", {"mode": "b"})).info()
    assert a1["roomId"] == a2["roomId"] != b["roomId"]
    listings = await server.get_available_rooms("r")
    assert sorted(item["mode"] for item in listings) == ["a", "b"]


async def test_15_endpoint_with_a_path_prefix(start_server, js) -> None:
    server = await start_server({"r": Plain})
    c = await js.client(endpoint(server, "/api"))
    room = await c.create("r")
    info = await room.info()
    assert info["name"] == "r" and len(server.matchmaker.rooms[info["roomId"]].clients) == 1


async def test_16_private_and_locked_rooms(start_server, js, profile) -> None:
    class Hidden(Room[Any]):
        def on_create(self, options: dict[str, Any]) -> None:
            self.set_private(options.get("private", False))
            if options.get("lock"):
                self.lock()

    server = await start_server({"r": Hidden})
    c = await js.client(endpoint(server))
    private = await (await c.create("r", {"private": True})).info()
    with pytest.raises(JSError) as info:
        await c.join("r")
    assert info.value.code == seen_code(4211, profile, http=True)
    other = await (await c.join_or_create("r")).info()
    assert other["roomId"] != private["roomId"]
    by_id = await (await c.join_by_id(private["roomId"])).info()
    assert by_id["roomId"] == private["roomId"]
    locked = await (await c.create("r", {"lock": True})).info()
    with pytest.raises(JSError) as info:
        await c.join_by_id(locked["roomId"])
    assert (info.value.code, info.value.message) == (seen_code(4212, profile, http=True),
                                                     f'room "{locked["roomId"]}" is locked')


async def test_46_concurrent_join_or_create_fills_one_room(start_server, js) -> None:
    created: list[str] = []

    class Single(Room[Any]):
        max_clients = 3

        async def on_create(self, options: dict[str, Any]) -> None:
            if created:
                raise ServerError(4213, "only one room")
            created.append(self.room_id)
            await asyncio.sleep(0.05)    # a slow creation: the other requests must wait for it

    server = await start_server({"single3": Single})
    c = await js.client(endpoint(server))
    results = await c.race("joinOrCreate", 9, "single3")
    ok = [r for r in results if r["ok"]]
    assert len(ok) == 3 and {r["roomId"] for r in ok} == set(created)
    assert len(server.matchmaker.rooms) == 1


class _OutOfOrderDriver(LocalDriver):
    """A driver whose writes land late, the earlier ones latest (as writes over a pool of
    Redis connections may): each save is serialised when called and stored when it lands."""

    def __init__(self) -> None:
        super().__init__()
        self.delays = [0.3, 0.15, 0.0]
        self.landed: list[dict[str, Any]] = []

    async def create(self, listing: RoomListing) -> None:
        self._listings[listing.room_id] = RoomListing.from_json(listing.to_json())     # (a copy, as Redis keeps)

    async def save(self, listing: RoomListing) -> None:
        values = listing.to_json()
        await asyncio.sleep(self.delays.pop(0) if self.delays else 0.0)
        self.landed.append(values)
        if listing.room_id in self._listings:
            stored = RoomListing.from_json(values)
            self._listings[listing.room_id] = stored


class Pair(Room[Any]):
    max_clients = 4


async def test_the_stored_listing_is_the_latest_however_the_driver_orders_writes() -> None:
    from pyseus.client import Client
    driver = _OutOfOrderDriver()
    server = Server(driver=driver)
    server.define("pair", Pair)
    await server.serve("127.0.0.1", 0)
    try:
        async with Client(f"http://127.0.0.1:{server.port}") as one, Client(f"http://127.0.0.1:{server.port}") as two:
            first = await one.join_or_create("pair")
            await two.join_by_id(first.room_id)
            for _ in range(100):
                if any(values["clients"] == 2 for values in driver.landed):
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)        # (any write still in flight lands)
            assert [listing.clients for listing in await driver.query({"roomId": first.room_id})] == [2], driver.landed
            assert [v["clients"] for v in driver.landed] == sorted(v["clients"] for v in driver.landed)
    finally:
        await server.shutdown()
