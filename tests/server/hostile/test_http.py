"""Hostile HTTP: slow requests, floods of matchmaking, squatted seats, forged headers."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from pyseus import protocol
from pyseus.server import Room
from tests.server.hostile.conftest import (
    Game, Tick, allocated_blocks, attack, bystander, endpoint, eventually, timed_join,
)
from tests.server.raw import open_socket, reserve

ON_TIME = 0.4
FAST_JOIN = 0.5


async def _is_closed(reader: asyncio.StreamReader, timeout: float) -> bool:
    try:
        while await asyncio.wait_for(reader.read(4096), timeout):
            pass                    # (an error page, then the close)
        return True
    except (ConnectionError, asyncio.IncompleteReadError):
        return True
    except asyncio.TimeoutError:
        return False


async def test_slowloris_connections_are_closed_at_the_request_deadline(arena) -> None:
    server = await arena(request_timeout=1.0)
    watch = await bystander(server, "10.0.0.1")
    baseline = server.transport.connections
    before = allocated_blocks()
    start = time.monotonic()
    peers = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(300)]
    for _, writer in peers:
        writer.write(b"GET /matchmake/game HTTP/1.1\r\nHost: 127.0.0.1\r\n")

    async def trickle() -> None:          # one more header line every 0.3 s, never the end
        for i in range(10):
            await asyncio.sleep(0.3)
            for _, writer in peers:
                if not writer.is_closing():
                    writer.write(f"X-Slow-{i}: 1\r\n".encode())
    trickling = asyncio.ensure_future(trickle())
    join_time = await timed_join(server, "10.0.0.3")
    closed = await asyncio.gather(*(_is_closed(reader, 3.0) for reader, _ in peers))
    elapsed = time.monotonic() - start
    trickling.cancel()
    assert all(closed) and elapsed < 3.5, elapsed
    await eventually(lambda: server.transport.connections == baseline)
    gap = watch.largest_gap(start)
    print(f"slowloris: 300 closed after {elapsed:.2f} s; largest patch gap {gap * 1000:.0f} ms; "
          f"join {join_time * 1000:.0f} ms")
    assert gap < ON_TIME and join_time < FAST_JOIN
    for _, writer in peers:
        writer.close()
    assert allocated_blocks() - before < 20_000


async def test_a_body_that_never_arrives_gets_408(arena) -> None:
    server = await arena(request_timeout=1.0)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"POST /matchmake/joinOrCreate/game HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"a\":")
    start = time.monotonic()
    status_line = await asyncio.wait_for(reader.readline(), 3)
    assert status_line.startswith(b"HTTP/1.1 408"), status_line
    assert time.monotonic() - start < 2.0
    writer.close()


async def test_idle_connections_are_closed(arena) -> None:
    server = await arena(request_timeout=1.0, keepalive_timeout=1.0)
    # one that never sends a byte
    silent_reader, silent = await asyncio.open_connection("127.0.0.1", server.port)
    # one that made a request and keeps the connection
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /matchmake/game HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert (await asyncio.wait_for(reader.readline(), 3)).startswith(b"HTTP/1.1 200")
    start = time.monotonic()
    assert await _is_closed(silent_reader, 3.0)
    assert await _is_closed(reader, 3.0)
    assert time.monotonic() - start < 2.5
    silent.close()
    writer.close()


async def test_a_create_flood_is_held_to_the_address_rate(arena) -> None:
    server = await arena()
    watch = await bystander(server, "10.0.0.1")
    start = time.monotonic()
    flood = asyncio.ensure_future(attack("creates", server.port, "game", 1000))
    await asyncio.sleep(0.3)
    join_time = await timed_join(server, "10.0.0.3")
    result = await flood
    elapsed = time.monotonic() - start
    statuses = result["statuses"]
    limits = server.limits
    print(f"create flood: {statuses} in {elapsed:.2f} s; largest patch gap "
          f"{watch.largest_gap(start) * 1000:.0f} ms; join {join_time * 1000:.0f} ms")
    assert set(statuses) <= {"200", "429"}
    assert statuses["200"] <= limits.request_burst + elapsed * limits.requests_per_second + 1
    assert statuses["429"] >= 1000 - statuses["200"]
    assert len(server.matchmaker.engines) <= statuses["200"] + 2       # (+ the bystanders' rooms)
    assert watch.largest_gap(start) < ON_TIME and join_time < FAST_JOIN


async def test_rooms_per_process_are_capped(arena) -> None:
    server = await arena(max_rooms=10, requests_per_second=1000, request_burst=1000)
    for i in range(10):
        assert "sessionId" in await reserve(endpoint(server), "create", "game" if i % 2 else "other")
    for name in ("game", "other"):
        refused = await reserve(endpoint(server), "create", name)
        assert refused == {"code": 523, "error": "too many rooms on this server"}
    # joining rooms that exist still works
    assert "sessionId" in await reserve(endpoint(server), "joinOrCreate", "game")
    assert len(server.matchmaker.engines) == 10


async def test_rooms_per_type_are_capped(arena) -> None:
    class Capped(Game):
        max_rooms = 2

    server = await arena(max_rooms_per_type=3, requests_per_second=1000, request_burst=1000)
    server.define("capped", Capped)
    for _ in range(3):
        assert "sessionId" in await reserve(endpoint(server), "create", "game")
    assert (await reserve(endpoint(server), "create", "game"))["error"] == 'too many rooms of type "game"'
    assert "sessionId" in await reserve(endpoint(server), "create", "other")
    for _ in range(2):
        assert "sessionId" in await reserve(endpoint(server), "create", "capped")
    assert (await reserve(endpoint(server), "create", "capped"))["code"] == 523


class Bare(Room[Any]):
    """No state and no simulation: nothing to do between messages."""

    def on_create(self, options: dict[str, Any]) -> None:
        self.on_message("hello", lambda client, message: client.send("hello"))


async def test_rooms_without_state_or_simulation_do_not_tick(arena) -> None:
    server = await arena()
    server.define("bare", Bare)
    rooms = [await server.create_room("bare") for _ in range(200)]
    engines = [server.matchmaker.engines[room.room_id] for room in rooms]
    assert not any(engine.ticking for engine in engines)
    game = await server.create_room("game")
    assert server.matchmaker.engines[game.room_id].ticking
    rooms[0].set_state(Tick())                   # a state brings the patch loop
    assert engines[0].ticking
    rooms[1].set_simulation_interval(lambda dt: None, 100)
    assert engines[1].ticking


class Open(Room[Any]):
    """No max_clients: only max_reservations bounds the seats waiting for a socket."""

    def on_create(self, options: dict[str, Any]) -> None:
        self.set_seat_reservation_time(1.0)


async def test_unclaimed_seats_per_room_are_capped_even_without_max_clients(arena) -> None:
    server = await arena(max_reservations=20, requests_per_second=1000, request_burst=1000)
    server.define("open", Open)
    seat = await reserve(endpoint(server), "create", "open")
    room_id = seat["room"]["roomId"]
    player = await open_socket(endpoint(server), f"/{seat['room']['processId']}/{room_id}",
                               sessionId=seat["sessionId"])
    await player.next(protocol.JoinRoom)
    answers = [await reserve(endpoint(server), "joinById", room_id) for _ in range(30)]
    assert sum("sessionId" in a for a in answers) == 20
    assert all(a["code"] == 523 and "already full" in a["error"] for a in answers if "sessionId" not in a)
    # joinOrCreate goes to another room rather than failing
    other = await reserve(endpoint(server), "joinOrCreate", "open")
    assert other["room"]["roomId"] != room_id
    # the squatted seats expire, and the room takes new ones
    await asyncio.sleep(1.3)
    assert "sessionId" in await reserve(endpoint(server), "joinById", room_id)
    await player.close()


async def test_a_seat_reservation_is_claimed_once(arena) -> None:
    server = await arena()
    seat = await reserve(endpoint(server), "joinOrCreate", "game")
    path = f"/{seat['room']['processId']}/{seat['room']['roomId']}"
    first = await open_socket(endpoint(server), path, sessionId=seat["sessionId"])
    assert isinstance(await first.next(protocol.JoinRoom), protocol.JoinRoom)
    replay = await open_socket(endpoint(server), path, sessionId=seat["sessionId"])
    error = await replay.next(protocol.ErrorMessage)
    assert error.code == 524 and await replay.closed() == 4002
    await first.close()


class Reconnecting(Game):
    def on_drop(self, client: Any, code: int) -> None:
        self.allow_reconnection(client, 10)


async def test_a_reconnection_token_works_once(arena) -> None:
    server = await arena()
    server.define("rc", Reconnecting)
    seat = await reserve(endpoint(server), "joinOrCreate", "rc")
    room_id, session = seat["room"]["roomId"], seat["sessionId"]
    path = f"/{seat['room']['processId']}/{room_id}"
    sock = await open_socket(endpoint(server), path, sessionId=session)
    token = (await sock.next(protocol.JoinRoom)).reconnection_token
    await sock.send(protocol.join_ack())
    await sock.next(protocol.RoomState)
    sock.ws._response.connection.transport.abort()      # the network goes away (no close frame)
    engine = server.matchmaker.engines[room_id]
    await eventually(lambda: len(engine.clients) == 0)
    back = await open_socket(endpoint(server), path, sessionId=session, reconnectionToken=token)
    assert (await back.next(protocol.JoinRoom)).reconnection_token != token
    replay = await open_socket(endpoint(server), path, sessionId=session, reconnectionToken=token)
    assert (await replay.next(protocol.ErrorMessage)).code == 524
    assert await replay.closed() == 4003
    assert back.close_code is None                       # the real one stays
    await back.close()
    await sock.session.close()


async def test_deep_json_bodies_are_refused_with_the_error_form(arena, caplog) -> None:
    server = await arena()
    async with aiohttp.ClientSession() as http:
        for body in (b"[" * 100_000, b'{"a":' * 40 + b"1" + b"}" * 40, b"[" * 33 + b"]" * 33):
            async with http.post(f"{endpoint(server)}/matchmake/joinOrCreate/game", data=body) as resp:
                assert resp.status == 400
                answer = await resp.json()
                assert set(answer) == {"error"} and "nested deeper than 32" in answer["error"]
        within = json.dumps({"a": [[[[{"b": [1]}]]]]}).encode()
        async with http.post(f"{endpoint(server)}/matchmake/joinOrCreate/game", data=within) as resp:
            assert resp.status == 200
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text


class Auth(Game):
    seen: list[str | None] = []

    def on_auth(self, client: Any, options: dict[str, Any], request: Any) -> bool:
        Auth.seen.append(request.remote_address)
        return True


async def test_forwarded_headers_count_only_from_trusted_proxies(arena) -> None:
    Auth.seen = []
    trusting = await arena()                                         # trusts 127.0.0.1
    trusting.define("auth", Auth)
    untrusting = await arena(server_options={"trusted_proxies": ()})
    untrusting.define("auth", Auth)
    forged = {"X-Forwarded-For": "6.6.6.6, 10.1.2.3", "X-Real-IP": "7.7.7.7"}
    for server in (trusting, untrusting):
        seat = await reserve(endpoint(server), "joinOrCreate", "auth", headers=forged)
        path = f"/{seat['room']['processId']}/{seat['room']['roomId']}"
        sock = await open_socket(endpoint(server), path, headers=forged, sessionId=seat["sessionId"])
        await sock.next(protocol.JoinRoom)
        await sock.close()
    # behind a trusted proxy: the address the proxy saw (the rightmost), not what the client wrote
    assert Auth.seen == ["10.1.2.3", "127.0.0.1"]
    # and the rate limit follows the same address: every forged name counts against 127.0.0.1
    statuses = []
    async with aiohttp.ClientSession() as http:
        for i in range(untrusting.limits.request_burst + 5):
            async with http.get(f"{endpoint(untrusting)}/matchmake/game",
                                headers={"X-Forwarded-For": f"10.9.{i // 250}.{i % 250}"}) as resp:
                statuses.append(resp.status)
    assert 429 in statuses


async def test_room_sockets_from_other_origins_are_refused_when_asked(arena) -> None:
    server = await arena(server_options={"cors_origins": ["https://game.test"], "check_origin": True})
    own = f"http://127.0.0.1:{server.port}"
    for origin, allowed in (("https://game.test", True), ("https://evil.test", False), (own, True), (None, True)):
        seat = await reserve(endpoint(server), "joinOrCreate", "game")
        url = (f"ws://127.0.0.1:{server.port}/{seat['room']['processId']}/{seat['room']['roomId']}"
               f"?sessionId={seat['sessionId']}")
        async with aiohttp.ClientSession() as http:
            try:
                ws = await http.ws_connect(url, origin=origin)
            except aiohttp.WSServerHandshakeError as e:
                assert not allowed and e.status == 403, origin
                continue
            assert allowed, origin
            await ws.close()


class Modes(Game):
    pass


async def test_filter_values_chosen_by_clients_leave_no_lock_behind(arena) -> None:
    server = await arena(requests_per_second=1000, request_burst=1000)
    server.define("modes", Modes).filter_by(["mode"])
    seats = await asyncio.gather(*(reserve(endpoint(server), "joinOrCreate", "modes", {"mode": f"m{i % 50}-{i}"})
                                   for i in range(300)))
    assert all("sessionId" in seat for seat in seats)
    assert server.matchmaker._create_locks == {}
