"""Leaving, disposal, locking, shutdown and keep-alive: checklist items 40-48;
reconnection: items 49-54."""
from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from pyseus.schema import Schema, int32
from pyseus import protocol
from pyseus.server import ReconnectionRejected, Room
from tests.server.conftest import JSError, endpoint, eventually, seen_code
from tests.server.raw import join, open_socket, reserve


class Counter(Schema):
    count: int32 = 0


class Tracked(Room[Counter]):
    """Records its lifecycle in `self.events`; `Tracked.instances` lists the rooms."""

    instances: list[Tracked] = []

    def on_create(self, options: dict[str, Any]) -> None:
        self.events: list[Any] = []
        Tracked.instances.append(self)
        self.set_state(Counter())
        self.max_clients = options.get("max")
        self.on_message("kick", lambda c, m: c.leave(m))
        self.on_message("disconnect", lambda c, m: self.disconnect())
        self.on_message("lock", lambda c, m: self.lock())

    def on_join(self, client: Any, options: dict[str, Any], auth: Any = None) -> None:
        self.events.append(("join", client.session_id))

    def on_leave(self, client: Any, consented: bool) -> None:
        self.events.append(("leave", client.session_id, consented))

    def on_dispose(self) -> None:
        self.events.append(("dispose",))


@pytest.fixture(autouse=True)
def _reset() -> None:
    Tracked.instances = []


async def test_40_consented_leave(start_server, js) -> None:
    server = await start_server({"t": Tracked})
    room = await (await js.client(endpoint(server))).join_or_create("t")
    sid = (await room.info())["sessionId"]
    assert await room.leave() == 4000
    r = Tracked.instances[0]
    await eventually(lambda: r.events[-1] == ("dispose",))
    assert r.events == [("join", sid), ("leave", sid, True), ("dispose",)]
    assert protocol.leave_room() == b"\x0c"


async def test_41_server_side_leave_with_a_custom_code(start_server, js) -> None:
    server = await start_server({"t": Tracked})
    room = await (await js.client(endpoint(server))).join_or_create("t")
    await room.send("kick", 4040)
    assert (await room.wait(kind="leave"))["code"] == 4040
    await eventually(lambda: ("dispose",) in Tracked.instances[0].events)
    assert Tracked.instances[0].events[1][2] is False


async def test_42_disconnect_closes_everyone_then_disposes(start_server, js) -> None:
    server = await start_server({"t": Tracked})
    c = await js.client(endpoint(server))
    a = await c.join_or_create("t")
    b = await c.join_or_create("t")
    await a.send("disconnect")
    assert (await a.wait(kind="leave"))["code"] == 4000 and (await b.wait(kind="leave"))["code"] == 4000
    r = Tracked.instances[0]
    await eventually(lambda: r.events[-1] == ("dispose",))
    assert sorted(e[2] for e in r.events if e[0] == "leave") == [True, True]
    assert r.events.index(("dispose",)) == 4


async def test_43_last_leave_disposes_and_the_id_is_gone(start_server, js, profile) -> None:
    server = await start_server({"t": Tracked})
    c = await js.client(endpoint(server))
    room = await c.join_or_create("t")
    room_id = (await room.info())["roomId"]
    await room.leave()
    await eventually(lambda: room_id not in server.matchmaker.rooms)
    with pytest.raises(JSError) as info:
        await c.join_by_id(room_id)
    assert info.value.code == seen_code(4212, profile, http=True)


async def test_44_unclaimed_room_is_disposed_after_the_reservation_time(start_server, monkeypatch) -> None:
    monkeypatch.setenv("COLYSEUS_SEAT_RESERVATION_TIME", "0.3")
    server = await start_server({"t": Tracked})
    seat = await reserve(endpoint(server), "create", "t")
    r = Tracked.instances[0]
    assert r._seat_reservation_time == 0.3 and not r.events
    await eventually(lambda: r.events == [("dispose",)], timeout=3)
    assert seat["room"]["roomId"] not in server.matchmaker.rooms


async def test_45_locking_follows_seats_and_lock_by_hand_sticks(start_server, js) -> None:
    server = await start_server({"t": Tracked})
    c = await js.client(endpoint(server))
    a = await c.create("t", {"max": 2})
    r = Tracked.instances[0]
    listing = server.matchmaker.engines[r.room_id].listing
    assert not r.locked and listing.clients == 1
    b = await c.join_by_id(r.room_id)
    assert r.locked and listing.locked and listing.clients == 2
    await b.leave()
    await eventually(lambda: not r.locked and listing.clients == 1)
    await a.send("lock")
    await eventually(lambda: r.locked)
    d = await c.join_or_create("t", {"max": 2})            # a locked room is skipped
    assert (await d.info())["roomId"] != r.room_id
    assert r.locked


async def test_47_graceful_shutdown(start_server, js, profile) -> None:
    server = await start_server({"t": Tracked})
    room = await (await js.client(endpoint(server))).join_or_create("t")
    r = Tracked.instances[0]
    stopping = asyncio.ensure_future(server.shutdown())
    # a consented leave: 4000 on a 0.16 server, 4001 (SERVER_SHUTDOWN) under "auto"
    assert (await room.wait(kind="leave"))["code"] == (4000 if profile == "0.16" else 4001)
    await stopping
    assert r.events[-2][2] is True and r.events[-1] == ("dispose",)


async def test_47_shutdown_answers_503_and_dev_mode_closes_4010(start_server) -> None:
    # (colyseus.js answers a 4010 close from a devMode server by retrying the
    # same seat instead of calling onLeave, so a raw socket shows the code)
    class SlowLeave(Tracked):
        async def on_leave(self, client: Any, consented: bool) -> None:
            await asyncio.sleep(0.5)       # the shutdown waits for this
            super().on_leave(client, consented)

    server = await start_server({"t": SlowLeave}, dev_mode=True)
    sock, seat = await join(endpoint(server), "t")
    assert seat["devMode"] is True
    await sock.next(protocol.RoomState)
    stopping = asyncio.ensure_future(server.shutdown())
    await asyncio.sleep(0.1)
    async with aiohttp.ClientSession() as http:
        async with http.post(endpoint(server, "/matchmake/joinOrCreate/t"), data="{}") as resp:
            assert resp.status == 503
    assert await sock.closed() == 4010
    await stopping
    assert Tracked.instances[0].events[-2:] == [("leave", seat["sessionId"], False), ("dispose",)]


async def test_48_unanswered_pings_drop_the_client(start_server) -> None:
    server = await start_server({"t": Tracked}, ping_interval=0.1, ping_max_retries=2)
    seat = await reserve(endpoint(server), "joinOrCreate", "t")
    answering = await open_socket(endpoint(server), f"/p/{seat['room']['roomId']}", sessionId=seat["sessionId"])
    seat2 = await reserve(endpoint(server), "joinOrCreate", "t")
    silent = await open_socket(endpoint(server), f"/p/{seat2['room']['roomId']}", autoping=False,
                               sessionId=seat2["sessionId"])
    await answering.next(protocol.JoinRoom)
    await answering.send(protocol.join_ack())
    await silent.next(protocol.JoinRoom)
    await silent.send(protocol.join_ack())
    await silent.closed(timeout=2)
    r = Tracked.instances[0]
    await eventually(lambda: ("leave", seat2["sessionId"], False) in r.events)
    await asyncio.sleep(0.3)
    assert answering.close_code is None and len(r.clients) == 1
    await answering.close()


class Reconnecting(Tracked):
    """Allows reconnection for `seconds` (option), records the outcome."""

    def on_create(self, options: dict[str, Any]) -> None:
        super().on_create(options)
        self.seconds = options.get("seconds", 2)
        self.outcomes: list[Any] = []
        self.on_message("disconnect", lambda c, m: self.disconnect())

    async def on_leave(self, client: Any, consented: bool) -> None:
        self.events.append(("leave", client.session_id, consented))
        if consented:
            return
        try:
            new = await self.allow_reconnection(client, self.seconds)
        except ReconnectionRejected as e:
            self.outcomes.append(("rejected", e.reason))
            return
        self.outcomes.append(("reconnected", new is client, new.session_id))
        new.send("reconnected", {"count": self.state.count})


async def test_49_50_reconnect_after_a_dropped_connection(start_server, js) -> None:
    server = await start_server({"r": Reconnecting})
    c = await js.client(endpoint(server))
    room = await c.join_or_create("r")
    info = await room.info()
    r = Tracked.instances[0]
    r.state.count = 5
    await room.drop()
    assert (await room.wait(kind="leave"))["code"] == 1005
    await eventually(lambda: r.events[-1][0] == "leave")
    again = await c.reconnect(info["reconnectionToken"])
    new_info = await again.info()
    assert new_info["sessionId"] == info["sessionId"] and new_info["roomId"] == info["roomId"]
    assert new_info["reconnectionToken"] != info["reconnectionToken"]
    message = await again.wait(kind="message", type="reconnected")
    events = await again.events()
    assert events.index(message) > [e["kind"] for e in events].index("state")
    assert message["message"] == {"count": 5}
    assert r.outcomes == [("reconnected", True, info["sessionId"])]
    assert [e for e in r.events if e[0] == "join"] == [("join", info["sessionId"])]
    assert len(r.clients) == 1


def held_for_reconnection(server: Any, r: Tracked) -> int:
    # seats in the listing that no client in the room and no reservation takes
    return server.matchmaker.engines[r.room_id].listing.clients - len(r.clients)


async def test_51_52_53_bad_reconnection_tokens(start_server, js, profile) -> None:
    server = await start_server({"r": (Reconnecting, {"seconds": 0.3})})
    c = await js.client(endpoint(server))
    keep = await c.join_or_create("r")              # keeps the room alive
    room = await c.join_or_create("r")
    old = (await room.info())["reconnectionToken"]
    await room.drop()
    r = Tracked.instances[0]
    await eventually(lambda: held_for_reconnection(server, r) == 1)
    again = await c.reconnect(old)
    with pytest.raises(JSError) as info:
        await c.reconnect(old)
    assert (info.value.code, info.value.message) == (seen_code(4214, profile, http=True),
                                                     "reconnection token invalid or expired.")
    token = (await again.info())["reconnectionToken"]
    await again.drop()
    await eventually(lambda: held_for_reconnection(server, r) == 1)
    await asyncio.sleep(0.5)
    assert r.outcomes[-1] == ("rejected", "timeout")
    with pytest.raises(JSError) as info:
        await c.reconnect(token)
    assert info.value.code == seen_code(4214, profile, http=True)
    with pytest.raises(JSError) as info:
        await c.reconnect("abc:def")
    assert (info.value.code, info.value.message) == (seen_code(4212, profile, http=True),
                                                     'room "abc" has been disposed.')
    await keep.leave()


async def test_54_disconnect_rejects_pending_reconnections(start_server, js) -> None:
    server = await start_server({"r": (Reconnecting, {"seconds": 30})})
    c = await js.client(endpoint(server))
    keep = await c.join_or_create("r")
    room = await c.join_or_create("r")
    await room.drop()
    r = Tracked.instances[0]
    await eventually(lambda: held_for_reconnection(server, r) == 1)
    await keep.send("disconnect")
    await eventually(lambda: r.outcomes == [("rejected", "disconnecting")])
    await eventually(lambda: r.events[-1] == ("dispose",))
