"""Unit tests of each Room member, driven through a real server on 127.0.0.1 and
raw sockets where a client is needed."""
from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any

import pytest

from pyseus.schema import Decoder, MapSchema, Schema, float32, int32, string
from pyseus import protocol
from pyseus.server import Client, ClientList, ReconnectionRejected, Room, ServerError
from pyseus.server.room import seat_reservation_time_from_env
from tests.server.conftest import endpoint, eventually, seen_code
from tests.server.raw import join, open_socket, reserve


class Point(Schema):
    x: float32 = 0.0
    label: string = ""


class World(Schema):
    tick: int32 = 0
    points: MapSchema[Point]


class Plain(Room[World]):
    """A room that does what its options say; tests reach the instance directly."""

    def on_create(self, options: dict[str, Any]) -> None:
        if options.get("state", True):
            self.set_state(World())
        if "max" in options:
            self.max_clients = options["max"]
        if "room_id" in options:
            self.room_id = options["room_id"]
        if "patch_rate" in options:
            self.set_patch_rate(options["patch_rate"])
        if options.get("keep"):
            self.auto_dispose = False
        self.on_message("noop", lambda c, m: None)


async def _room_of(server: Any, seat: dict[str, Any]) -> Room[Any]:
    return server.matchmaker.rooms[seat["room"]["roomId"]]


# ---- state and patches ----------------------------------------------------------


async def test_set_state_accepts_schema_instances_only(start_server) -> None:
    server = await start_server({"p": Plain})
    room = await server.create_room("p", {"state": False})
    with pytest.raises(AttributeError):
        room.state
    with pytest.raises(TypeError, match="Schema instance"):
        room.set_state({"tick": 1})  # type: ignore[arg-type]
    world = World(tick=3)
    room.set_state(world)
    assert room.state is world


async def test_set_state_after_a_join_is_refused(start_server) -> None:
    server = await start_server({"p": Plain})
    sock, seat = await join(endpoint(server), "p")
    room = await _room_of(server, seat)
    with pytest.raises(RuntimeError, match="after clients joined"):
        room.set_state(World())
    await sock.close()


async def test_patch_rate_default_none_and_zero(start_server) -> None:
    server = await start_server({"p": Plain})
    room = await server.create_room("p")
    assert room.patch_rate == 50
    room.set_patch_rate(None)
    assert room.patch_rate is None
    room.set_patch_rate(20)
    assert room.patch_rate == 20
    room.set_patch_rate(0)
    assert room.patch_rate is None


async def test_broadcast_patch_by_hand(start_server) -> None:
    server = await start_server({"p": (Plain, {"patch_rate": None})})
    sock, seat = await join(endpoint(server), "p")
    room = await _room_of(server, seat)
    mirror = Decoder(World())
    mirror.decode((await sock.next(protocol.RoomState)).data)
    assert room.broadcast_patch() is False          # nothing changed
    room.state.tick = 7
    room.state.points["a"] = Point(x=1.5, label="a")
    await asyncio.sleep(0.2)                        # no automatic patch
    assert not any(isinstance(f, protocol.RoomPatch) for f in sock.frames)
    assert room.broadcast_patch() is True
    mirror.decode((await sock.next(protocol.RoomPatch)).data)
    assert mirror.state.to_json() == room.state.to_json() == {"tick": 7, "points": {"a": {"x": 1.5, "label": "a"}}}
    assert room.broadcast_patch() is False
    await sock.close()


async def test_set_patch_rate_restarts_the_loop(start_server) -> None:
    server = await start_server({"p": (Plain, {"patch_rate": None})})
    sock, seat = await join(endpoint(server), "p")
    room = await _room_of(server, seat)
    await sock.next(protocol.RoomState)
    room.state.tick = 1
    room.set_patch_rate(10)                         # turned on again after the start
    await sock.next(protocol.RoomPatch, timeout=2)
    await sock.close()


async def test_simulation_interval_gets_delta_and_drives_the_clock(start_server) -> None:
    server = await start_server({"p": Plain})
    room = await server.create_room("p", {"keep": True})
    deltas: list[float] = []
    fired: list[float] = []
    room.set_simulation_interval(deltas.append, 10)
    room.clock.set_timeout(lambda: fired.append(room.clock.elapsed_time), 30)
    await eventually(lambda: len(deltas) >= 8 and fired)
    # A driven clock advances exactly by the deltas it handed out.
    assert all(d > 0 for d in deltas)
    assert math.isclose(sum(deltas), room.clock.elapsed_time, rel_tol=1e-9)
    assert room.clock.delta_time == deltas[-1]
    room.set_simulation_interval(None)
    count = len(deltas)
    assert fired[0] >= 30                            # fired on a simulation step, not before
    await asyncio.sleep(0.1)
    assert len(deltas) == count                      # stopped
    with pytest.raises(ValueError):
        room.set_simulation_interval(deltas.append, 0)
    await room.disconnect()


async def test_each_patch_follows_one_simulation_step_at_equal_rates(start_server) -> None:
    class Stepping(Plain):
        def on_create(self, options: dict[str, Any]) -> None:
            super().on_create(options)
            self.set_patch_rate(20)
            self.set_simulation_interval(lambda dt: setattr(self.state, "tick", self.state.tick + 1), 20)

    server = await start_server({"s": Stepping})
    sock, _ = await join(endpoint(server), "s")
    mirror = Decoder(World())
    mirror.decode((await sock.next(protocol.RoomState)).data)
    ticks = []
    at = len(sock.frames)
    for _ in range(40):
        patch = await sock.next(protocol.RoomPatch, start=at)
        at = sock.frames.index(patch) + 1
        mirror.decode(patch.data)
        ticks.append(mirror.state.tick)
    # one timeline for both: no patch is skipped and none carries two steps
    assert [b - a for a, b in zip(ticks, ticks[1:])] == [1] * 39
    await sock.close()


async def test_a_simulation_callback_may_change_the_schedule_or_end_the_room(start_server) -> None:
    events: list[str] = []

    class Ending(Plain):
        def on_create(self, options: dict[str, Any]) -> None:
            super().on_create(options)
            self.set_simulation_interval(self.first, 10)

        async def first(self, delta: float) -> None:
            self.set_simulation_interval(self.second, 10)     # replaces itself...
            await asyncio.sleep(0.02)                           # ...and is not cut short
            events.append("first done")

        async def second(self, delta: float) -> None:
            if "second" not in events:
                events.append("second")
                await self.disconnect()                         # ends the room from its own step
                events.append("disconnect returned")

        async def on_dispose(self) -> None:
            await asyncio.sleep(0.02)
            events.append("disposed")

    server = await start_server({"e": Ending})
    room = await server.create_room("e", {"keep": True})
    await eventually(lambda: "disconnect returned" in events and "first done" in events)
    assert sorted(events) == ["disconnect returned", "disposed", "first done", "second"]
    assert events.index("second") < events.index("disposed") < events.index("disconnect returned")
    assert room.room_id not in server.matchmaker.rooms


async def test_simulation_callback_errors_do_not_stop_the_loop(start_server) -> None:
    server = await start_server({"p": Plain})
    room = await server.create_room("p", {"keep": True})
    calls: list[float] = []

    def step(delta: float) -> None:
        calls.append(delta)
        raise RuntimeError("boom")

    room.set_simulation_interval(step, 10)
    await eventually(lambda: len(calls) >= 3)
    await room.disconnect()


async def test_async_simulation_callback(start_server) -> None:
    server = await start_server({"p": Plain})
    room = await server.create_room("p", {"keep": True})
    calls: list[float] = []

    async def step(delta: float) -> None:
        await asyncio.sleep(0)
        calls.append(delta)

    room.set_simulation_interval(step, 10)
    await eventually(lambda: len(calls) >= 3)
    await room.disconnect()


# ---- listing: metadata, private, lock, max_clients, room_id ------------------------


async def test_metadata_starts_empty_and_merges(start_server) -> None:
    server = await start_server({"p": Plain})
    room = await server.create_room("p", {"keep": True})
    assert room.metadata == {}
    room.set_metadata({"mode": "ffa", "level": 1})
    room.set_metadata({"level": 2})
    assert room.metadata == {"mode": "ffa", "level": 2}
    [public] = await server.get_available_rooms("p")
    assert public["metadata"] == {"mode": "ffa", "level": 2}
    seat = await reserve(endpoint(server), "joinById", room.room_id)
    assert seat["room"]["metadata"] == {"mode": "ffa", "level": 2}


async def test_set_private(start_server) -> None:
    server = await start_server({"p": Plain})
    room = await server.create_room("p", {"keep": True})
    room.set_private()
    assert room.private
    assert await server.get_available_rooms("p") == []
    seat = await reserve(endpoint(server), "joinOrCreate", "p")
    assert seat["room"]["roomId"] != room.room_id   # skipped
    seat = await reserve(endpoint(server), "joinById", room.room_id)
    assert seat["room"]["roomId"] == room.room_id   # still reachable by id
    room.set_private(False)
    assert not room.private


async def test_locked_is_read_only_and_follows_lock_unlock(start_server, profile) -> None:
    server = await start_server({"p": Plain})
    room = await server.create_room("p", {"keep": True})
    assert room.locked is False
    with pytest.raises(AttributeError):
        room.locked = True  # type: ignore[misc]
    room.lock()
    assert room.locked
    seat = await reserve(endpoint(server), "joinById", room.room_id)
    assert seat["code"] == seen_code(4212, profile)
    room.unlock()
    assert not room.locked
    assert "sessionId" in await reserve(endpoint(server), "joinById", room.room_id)


async def test_max_clients_none_is_null_and_can_change(start_server) -> None:
    server = await start_server({"p": Plain})
    seat = await reserve(endpoint(server), "create", "p")
    assert seat["room"]["maxClients"] is None
    room = await _room_of(server, seat)
    assert room.max_clients is None
    room.max_clients = 1                            # one seat is reserved already
    assert room.locked
    room.max_clients = 3
    assert not room.locked
    with pytest.raises(ValueError):
        room.max_clients = 0
    with pytest.raises(ValueError):
        room.max_clients = True  # type: ignore[assignment]
    assert room.max_clients == 3 and not room.locked      # a refused value is not kept


async def test_room_id_can_be_set_in_on_create_only(start_server, profile) -> None:
    server = await start_server({"p": Plain})
    seat = await reserve(endpoint(server), "create", "p", {"room_id": "arena-1"})
    assert seat["room"]["roomId"] == "arena-1"
    room = await _room_of(server, seat)
    with pytest.raises(AttributeError, match="on_create"):
        room.room_id = "other"
    again = await reserve(endpoint(server), "create", "p", {"room_id": "arena-1"})
    assert again["code"] == seen_code(4213, profile) and "already in use" in again["error"]
    bad = await reserve(endpoint(server), "create", "p", {"room_id": "no/slashes"})
    assert bad["code"] == seen_code(4213, profile) and bad["error"] == "internal error"
    dev = await start_server({"p": Plain}, dev_mode=True)
    bad = await reserve(endpoint(dev), "create", "p", {"room_id": "no/slashes"})
    assert bad["code"] == seen_code(4213, profile) and "room_id" in bad["error"]


async def test_generated_room_ids_are_nine_url_safe_characters(start_server) -> None:
    server = await start_server({"p": Plain})
    ids = {(await server.create_room("p", {"keep": True})).room_id for _ in range(20)}
    assert len(ids) == 20
    assert all(len(i) == 9 and all(c.isalnum() or c in "-_" for c in i) for i in ids)


async def test_room_name_and_presence(start_server) -> None:
    server = await start_server({"arena": Plain})
    room = await server.create_room("arena", {"keep": True})
    assert room.room_name == "arena"
    assert room.presence is server.presence
    await room.presence.set("k", 1)
    assert await server.presence.get("k") == 1


async def test_create_room_of_an_unknown_name(start_server) -> None:
    server = await start_server({"p": Plain})
    with pytest.raises(ServerError) as e:
        await server.create_room("nope")
    assert e.value.code == 4210


# ---- seats ------------------------------------------------------------------------


async def test_set_seat_reservation_time(start_server) -> None:
    class Quick(Plain):
        def on_create(self, options: dict[str, Any]) -> None:
            super().on_create(options)
            self.set_seat_reservation_time(0.2)

    server = await start_server({"q": Quick})
    seat = await reserve(endpoint(server), "joinOrCreate", "q")
    room = await _room_of(server, seat)
    with pytest.raises(ValueError):
        room.set_seat_reservation_time(0)
    await eventually(lambda: room.room_id not in server.matchmaker.rooms, timeout=3)
    sock = await open_socket(endpoint(server), f"/{seat['room']['processId']}/{room.room_id}",
                             sessionId=seat["sessionId"])
    assert await sock.closed() == 4002
    await sock.session.close()


def test_seat_reservation_time_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("COLYSEUS_SEAT_RESERVATION_TIME", "42.5")
    assert seat_reservation_time_from_env() == 42.5
    monkeypatch.setenv("COLYSEUS_SEAT_RESERVATION_TIME", "nonsense")
    assert seat_reservation_time_from_env() == 15
    monkeypatch.delenv("COLYSEUS_SEAT_RESERVATION_TIME")
    assert seat_reservation_time_from_env() == 15


# ---- clients ----------------------------------------------------------------------


async def test_clients_is_a_read_only_sequence(start_server) -> None:
    server = await start_server({"p": Plain})
    a, seat_a = await join(endpoint(server), "p")
    b, seat_b = await join(endpoint(server), "p")
    room = await _room_of(server, seat_a)
    clients = room.clients
    assert isinstance(clients, Sequence) and isinstance(clients, ClientList)
    assert len(clients) == 2
    assert [c.session_id for c in clients] == [seat_a["sessionId"], seat_b["sessionId"]]
    assert clients[0].session_id == seat_a["sessionId"] and clients[-1] is clients[1]
    assert clients.get(seat_b["sessionId"]) is clients[1] and clients.get("nobody") is None
    assert not hasattr(clients, "append")
    await a.close()
    await eventually(lambda: len(room.clients) == 1)
    assert clients[0].session_id == seat_b["sessionId"]     # a live view
    await b.close()


async def test_client_send_without_payload_and_bytes(start_server) -> None:
    server = await start_server({"p": Plain})
    sock, seat = await join(endpoint(server), "p")
    room = await _room_of(server, seat)
    await sock.next(protocol.RoomState)
    client = room.clients[0]
    client.send("a")
    client.send("b", None)
    client.send(3, {"n": [1, 2]})
    client.send_bytes("raw", b"\x00\xff")
    await eventually(lambda: len([f for f in sock.frames if isinstance(f, (protocol.RoomData,
                                                                          protocol.RoomDataBytes))]) == 4)
    data = [f for f in sock.frames if isinstance(f, (protocol.RoomData, protocol.RoomDataBytes))]
    assert [f.type for f in data] == ["a", "b", 3, "raw"]
    assert data[0].payload == b"" and data[1].payload == b""
    assert data[2].message() == {"n": [1, 2]}
    assert data[3].data == b"\x00\xff"
    await sock.close()


async def test_client_user_data_auth_and_error(start_server) -> None:
    class Auth(Plain):
        def on_auth(self, client: Client, options: dict[str, Any], request: Any) -> Any:
            return {"role": "admin"}

        def on_join(self, client: Client, options: dict[str, Any], auth: Any = None) -> None:
            client.user_data = {"joined": True}
            client.error(4100, "heads up")

    server = await start_server({"a": Auth})
    sock, seat = await join(endpoint(server), "a")
    room = await _room_of(server, seat)
    error = await sock.next(protocol.ErrorMessage)
    assert (error.code, error.message) == (4100, "heads up")
    client = room.clients[0]
    assert client.auth == {"role": "admin"} and client.user_data == {"joined": True}
    await sock.next(protocol.RoomState)              # still connected
    await sock.close()


async def test_client_leave_codes(start_server) -> None:
    server = await start_server({"p": Plain})
    sock, seat = await join(endpoint(server), "p")
    room = await _room_of(server, seat)
    client = room.clients[0]
    for bad in (999, 1001, 2999, 5000):
        with pytest.raises(ValueError):
            client.leave(bad)
    client.leave(4444)
    assert await sock.closed() == 4444
    await sock.session.close()


async def test_after_next_patch_waits_for_a_joining_client(start_server) -> None:
    class Late(Plain):
        def on_join(self, client: Client, options: dict[str, Any], auth: Any = None) -> None:
            client.send("late", 1, after_next_patch=True)
            self.broadcast("late_all", 2, after_next_patch=True)

    server = await start_server({"l": Late})
    sock, seat = await join(endpoint(server), "l", ack=False)
    room = await _room_of(server, seat)
    room.state.tick = 1
    await asyncio.sleep(0.2)              # patches went by while the client was joining
    assert [type(f) for f in sock.frames] == [protocol.JoinRoom]
    await sock.send(protocol.join_ack())
    await sock.next(protocol.RoomData, start=0)
    await eventually(lambda: len(sock.frames) >= 4)
    kinds = [(type(f).__name__, getattr(f, "type", None)) for f in sock.frames[:4]]
    assert kinds == [("JoinRoom", None), ("RoomState", None), ("RoomData", "late"), ("RoomData", "late_all")]
    await sock.close()


async def test_broadcast_a_schema_instance_sends_its_json(start_server) -> None:
    server = await start_server({"p": Plain})
    sock, seat = await join(endpoint(server), "p")
    room = await _room_of(server, seat)
    point = Point(x=2.5, label="spawn")
    room.broadcast("spawn", point)
    room.broadcast("raw", b"\x01\x02")
    frame = await sock.next(protocol.RoomData)
    assert frame.type == "spawn" and frame.message() == {"x": 2.5, "label": "spawn"}
    assert (await sock.next(protocol.RoomDataBytes)).data == b"\x01\x02"
    await sock.close()


async def test_on_message_returns_a_remover_and_accepts_async_handlers(start_server) -> None:
    got: list[Any] = []

    class Handlers(Plain):
        def on_create(self, options: dict[str, Any]) -> None:
            super().on_create(options)
            self.remove = self.on_message("once", self.once)

        async def once(self, client: Client, message: Any) -> None:
            await asyncio.sleep(0)
            got.append(message)
            self.remove()

    server = await start_server({"h": Handlers})
    sock, seat = await join(endpoint(server), "h")
    await sock.send(protocol.room_data("once", 1))
    await eventually(lambda: got == [1])
    await sock.send(protocol.room_data("once", 2))   # no handler now: disconnected
    assert await sock.closed() == 4002
    assert got == [1]
    await sock.session.close()


# ---- lifecycle ----------------------------------------------------------------------


async def test_auto_dispose_false_keeps_an_empty_room(start_server) -> None:
    disposed: list[str] = []

    class Keep(Plain):
        auto_dispose = False

        def on_dispose(self) -> None:
            disposed.append(self.room_id)

    server = await start_server({"k": Keep})
    sock, seat = await join(endpoint(server), "k")
    room = await _room_of(server, seat)
    await sock.close()
    await eventually(lambda: len(room.clients) == 0)
    await asyncio.sleep(0.1)
    assert room.room_id in server.matchmaker.rooms and disposed == []
    await room.disconnect()
    assert disposed == [room.room_id] and room.room_id not in server.matchmaker.rooms


async def test_disconnect_returns_after_every_hook(start_server) -> None:
    order: list[str] = []

    class Slow(Plain):
        async def on_leave(self, client: Client, consented: bool) -> None:
            await asyncio.sleep(0.1)
            order.append(f"leave {consented}")

        async def on_dispose(self) -> None:
            await asyncio.sleep(0.1)
            order.append("dispose")

    server = await start_server({"s": Slow})
    a, seat = await join(endpoint(server), "s")
    b, _ = await join(endpoint(server), "s")
    room = await _room_of(server, seat)
    await room.disconnect(4321)
    assert order == ["leave False", "leave False", "dispose"]
    assert await a.closed() == 4321 and await b.closed() == 4321
    await room.disconnect()                           # a second call is harmless
    await a.session.close()
    await b.session.close()


async def test_allow_reconnection_times_out_and_can_be_rejected(start_server) -> None:
    outcomes: list[Any] = []

    class Rejoin(Plain):
        async def on_leave(self, client: Client, consented: bool) -> None:
            seconds = 0.2 if client.user_data == "timed" else "manual"
            deferred = self.allow_reconnection(client, seconds)
            if seconds == "manual":
                self.clock.set_timeout(lambda: deferred.reject("enough"), 50)
            try:
                await deferred
            except ReconnectionRejected as e:
                outcomes.append((client.user_data, e.reason))

        def on_join(self, client: Client, options: dict[str, Any], auth: Any = None) -> None:
            client.user_data = options.get("kind")

    server = await start_server({"r": Rejoin})
    a, seat = await join(endpoint(server), "r", {"kind": "timed"})
    b, _ = await join(endpoint(server), "r", {"kind": "manual"})
    room = await _room_of(server, seat)
    await a.close(4001)
    await b.close(4001)
    await eventually(lambda: len(outcomes) == 2)
    assert sorted(outcomes) == [("manual", "enough"), ("timed", "timeout")]
    await eventually(lambda: room.room_id not in server.matchmaker.rooms)


async def test_allow_reconnection_refuses_clients_that_never_joined(start_server) -> None:
    results: list[bool] = []

    class Rejoin(Plain):
        def on_leave(self, client: Client, consented: bool) -> None:
            results.append(self.allow_reconnection(client, 5).rejected)

    server = await start_server({"r": Rejoin})
    sock, seat = await join(endpoint(server), "r", ack=False)   # JOIN_ROOM never acknowledged
    room = await _room_of(server, seat)
    await sock.close(4001)
    await eventually(lambda: results == [True])
    await eventually(lambda: room.room_id not in server.matchmaker.rooms)


# ---- isolation ------------------------------------------------------------------------


async def test_failing_hooks_stay_in_their_room(start_server, caplog) -> None:
    class Faulty(Plain):
        def on_create(self, options: dict[str, Any]) -> None:
            super().on_create(options)
            self.on_message("crash", self.crash)
            self.clock.set_timeout(self.crash_timer, 10)

        def crash(self, client: Client, message: Any) -> None:
            raise RuntimeError("handler bug")

        def crash_timer(self) -> None:
            raise RuntimeError("timer bug")

        def on_leave(self, client: Client, consented: bool) -> None:
            raise RuntimeError("leave bug")

        def on_dispose(self) -> None:
            raise RuntimeError("dispose bug")

    server = await start_server({"f": Faulty, "p": Plain})
    sock, seat = await join(endpoint(server), "f")
    room = await _room_of(server, seat)
    await sock.send(protocol.room_data("crash", None))
    await sock.send(protocol.room_data("noop", None))
    await eventually(lambda: "handler bug" in caplog.text and "timer bug" in caplog.text)
    assert "message 'crash' handler raised RuntimeError" in caplog.text     # (its name, built on failure)
    assert len(room.clients) == 1                     # the sender stays connected
    await sock.close()
    await eventually(lambda: room.room_id not in server.matchmaker.rooms)
    assert "leave bug" in caplog.text and "dispose bug" in caplog.text
    other, _ = await join(endpoint(server), "p")      # the server still serves
    await other.next(protocol.RoomState)
    await other.close()


async def test_a_slow_room_does_not_stall_the_others(start_server) -> None:
    release = asyncio.Event()

    class Stuck(Plain):
        async def on_create(self, options: dict[str, Any]) -> None:
            super().on_create(options)
            self.on_message("wait", self.wait)

        async def wait(self, client: Client, message: Any) -> None:
            await release.wait()

    class Busy(Plain):
        def on_create(self, options: dict[str, Any]) -> None:
            super().on_create(options)
            self.set_simulation_interval(lambda dt: setattr(self.state, "tick", self.state.tick + 1), 10)

    server = await start_server({"stuck": Stuck, "busy": Busy})
    stuck, _ = await join(endpoint(server), "stuck")
    await stuck.send(protocol.room_data("wait", None))
    busy, seat = await join(endpoint(server), "busy")
    await busy.next(protocol.RoomState)
    first = len(busy.frames)
    await busy.next(protocol.RoomPatch, start=first)
    await busy.next(protocol.RoomPatch, start=len(busy.frames))
    assert not release.is_set()
    release.set()
    await stuck.close()
    await busy.close()


async def test_slow_on_create_does_not_block_other_matchmaking(start_server) -> None:
    release = asyncio.Event()

    class SlowCreate(Plain):
        async def on_create(self, options: dict[str, Any]) -> None:
            await release.wait()
            super().on_create(options)

    server = await start_server({"slow": SlowCreate, "p": Plain})
    pending = asyncio.ensure_future(reserve(endpoint(server), "create", "slow"))
    seat = await asyncio.wait_for(reserve(endpoint(server), "create", "p"), 5)
    assert "sessionId" in seat and not pending.done()
    release.set()
    assert "sessionId" in await asyncio.wait_for(pending, 5)
