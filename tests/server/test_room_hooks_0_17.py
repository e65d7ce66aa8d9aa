"""The Room members that came with Colyseus 0.17 (in snake_case): on_drop and on_reconnect,
max_messages_per_second, on_message_bytes; they work for every client generation."""
from __future__ import annotations

import asyncio
from typing import Any

from pyseus import protocol
from pyseus.server import Client, Room
from tests.server.conftest import endpoint, eventually
from tests.server.raw import join, open_socket, reserve


class Dropping(Room[Any]):
    events: list[tuple[Any, ...]] = []

    def on_create(self, options: dict[str, Any]) -> None:
        Dropping.events = []
        self.seconds = options.get("seconds")
        self.on_message("echo", lambda client, message: client.send("echo", message))

    def on_drop(self, client: Client, code: int) -> None:
        Dropping.events.append(("drop", code))
        if self.seconds is not None:
            self.allow_reconnection(client, self.seconds)

    def on_reconnect(self, client: Client) -> None:
        Dropping.events.append(("reconnect", client.session_id))

    def on_leave(self, client: Client, consented: bool) -> None:
        Dropping.events.append(("leave", consented))

    def on_dispose(self) -> None:
        Dropping.events.append(("dispose",))


async def test_on_leave_follows_a_drop_without_a_reconnection(start_server) -> None:
    server = await start_server({"d": Dropping})
    sock, _ = await join(endpoint(server), "d")
    await sock.close(3000)                  # any close but a consented leave is a drop
    await eventually(lambda: Dropping.events == [("drop", 3000), ("leave", False), ("dispose",)])


async def test_on_leave_follows_a_reconnection_that_expires(start_server) -> None:
    server = await start_server({"d": Dropping})
    sock, seat = await join(endpoint(server), "d", {"seconds": 0.3})
    room = server.matchmaker.rooms[seat["room"]["roomId"]]
    await sock.close(3000)
    await eventually(lambda: Dropping.events == [("drop", 3000)])
    await asyncio.sleep(0.1)
    assert room.room_id in server.matchmaker.rooms        # the seat is kept meanwhile
    await eventually(lambda: Dropping.events == [("drop", 3000), ("leave", False), ("dispose",)], timeout=3)


async def test_on_reconnect_runs_when_the_client_is_back_and_a_consented_leave_is_no_drop(
        start_server, profile) -> None:
    server = await start_server({"d": Dropping})
    base = endpoint(server)
    sock, seat = await join(base, "d", {"seconds": 5})
    token = sock.frames[0].reconnection_token
    await sock.close(3000)
    await eventually(lambda: Dropping.events == [("drop", 3000)])
    room_id = seat["room"]["roomId"]
    if profile == "0.16":                   # (the HTTP step that 0.16 clients make first)
        assert (await reserve(base, "reconnect", room_id, {"reconnectionToken": token}))["sessionId"] == \
            seat["sessionId"]
    again = await open_socket(base, f"/p/{room_id}", sessionId=seat["sessionId"], reconnectionToken=token)
    await again.next(protocol.JoinRoom)
    await again.send(protocol.join_ack())
    await again.send(protocol.room_data("echo", 1))
    assert (await again.next(protocol.RoomData)).message() == 1
    assert Dropping.events == [("drop", 3000), ("reconnect", seat["sessionId"])]
    await again.send(protocol.leave_room())
    assert await again.closed() == 4000
    await eventually(lambda: Dropping.events[2:] == [("leave", True), ("dispose",)])


class Limited(Room[Any]):
    max_messages_per_second = 20
    received = 0

    def on_create(self, options: dict[str, Any]) -> None:
        Limited.received = 0
        self.on_message("tick", self.count)

    def count(self, client: Client, message: Any) -> None:
        Limited.received += 1


async def test_max_messages_per_second_closes_the_offender_with_4002(start_server) -> None:
    server = await start_server({"l": Limited})
    calm, seat = await join(endpoint(server), "l")
    flood, _ = await join(endpoint(server), "l")
    for _ in range(100):
        await flood.send(protocol.room_data("tick"))
    assert await flood.closed() == 4002
    # a burst of two seconds' worth (40 messages, the ack counts too) got through, no more
    assert 35 <= Limited.received <= 40
    for _ in range(10):                      # within the limit: fine
        await calm.send(protocol.room_data("tick"))
        await asyncio.sleep(0.01)
    room = server.matchmaker.rooms[seat["room"]["roomId"]]
    await eventually(lambda: len(room.clients) == 1 and Limited.received >= 20)
    await calm.close()


class Bytes(Room[Any]):
    def on_create(self, options: dict[str, Any]) -> None:
        self.on_message("data", lambda client, message: client.send("via-message", list(message)))
        self.on_message("raw", lambda client, message: client.send("via-message", list(message)))
        self.on_message_bytes("raw", lambda client, data: client.send("via-bytes", list(data)))


async def test_on_message_bytes_takes_raw_bytes_ahead_of_on_message(start_server) -> None:
    server = await start_server({"b": Bytes})
    sock, _ = await join(endpoint(server), "b")
    await sock.send(protocol.room_data_bytes("raw", b"\x01\x02"))
    first = await sock.next(protocol.RoomData)
    assert (first.type, first.message()) == ("via-bytes", [1, 2])
    await sock.send(protocol.room_data_bytes("data", b"\x03"))        # no bytes handler: on_message's
    second = await sock.next(protocol.RoomData, start=sock.frames.index(first) + 1)
    assert (second.type, second.message()) == ("via-message", [3])
    await sock.close()
