"""Messages and patches: conformance checklist items 27-39."""
from __future__ import annotations

import asyncio
import datetime
from typing import Any

from pyseus.schema import Schema, int32
from pyseus import protocol
from pyseus.server import Room
from tests.server.conftest import endpoint, eventually
from tests.server.raw import join


class Counter(Schema):
    count: int32 = 0


class Echo(Room[Counter]):
    """Records what it receives; `reply` sends things back."""

    received: list[tuple[Any, ...]] = []

    def on_create(self, options: dict[str, Any]) -> None:
        Echo.received = []
        if options.get("state", True):
            self.set_state(Counter())
        if options.get("manual"):
            self.set_patch_rate(None)
        self.on_message("inc", lambda c, m: setattr(self.state, "count", self.state.count + m["by"]))
        self.on_message("echo", lambda c, m: Echo.received.append(("echo", m)))
        self.on_message(300, lambda c, m: Echo.received.append((300, m)))
        self.on_message("nopayload", self.nopayload)
        self.on_message("bytes", lambda c, m: (Echo.received.append(("bytes", m)), c.send_bytes("bytes", m)))
        self.on_message("reply", self.reply)
        self.on_message("broadcast", lambda c, m: self.broadcast("b1", m, except_=c))
        self.on_message("after", lambda c, m: self.broadcast("after", m, after_next_patch=True))
        self.on_message("checked", lambda c, m: Echo.received.append(("checked", m)), validate=self.check)
        if options.get("wildcard"):
            self.on_message("*", lambda c, t, m: Echo.received.append(("*", t, m)))

    @staticmethod
    def check(message: Any) -> Any:
        if not isinstance(message, dict) or "ok" not in message:
            raise ValueError("bad")
        return message["ok"]

    def nopayload(self, client: Any, message: Any) -> None:
        Echo.received.append(("nopayload", message))
        client.send("nopayload")

    def reply(self, client: Any, message: Any) -> None:
        if message == "error":
            client.error(4999, "custom error")
        elif message == "number":
            client.send(6, [1, "two", {"three": 3}])
        elif message == "big":
            client.send("big", {"int": 2**40, "huge": 2**60 + 1, "neg": -(2**35), "small": 7})


async def test_27_record_payload(start_server, js) -> None:
    server = await start_server({"echo": Echo})
    room = await (await js.client(endpoint(server))).join_or_create("echo")
    await room.send("echo", {"by": 2})
    await eventually(lambda: Echo.received == [("echo", {"by": 2})])
    assert protocol.unpack(bytes.fromhex("d4724091a2627902")) == {"by": 2}


async def test_28_msgpackr_values(start_server, js) -> None:
    server = await start_server({"echo": Echo})
    room = await (await js.client(endpoint(server))).join_or_create("echo")
    await room.send("echo", [64, 100, {"a": 1}, {"a": 2}, {"$date": 1500}, {"$undefined": True},
                             {"$bytes": [9, 8]}, 2**40, {}])
    await eventually(lambda: Echo.received)
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    assert Echo.received == [("echo", [64, 100, {"a": 1}, {"a": 2}, epoch + datetime.timedelta(milliseconds=1500),
                                       None, b"\x09\x08", 1099511627776.0, {}])]
    raw = "99cc40cc64d4724091a1610140 02d7ff7735940000000001d40000c4020908cb4270000000000000d4724190"
    assert protocol.unpack(bytes.fromhex(raw.replace(" ", "")))[4] == epoch + datetime.timedelta(seconds=1.5)


async def test_29_numeric_types_both_ways(start_server, js) -> None:
    server = await start_server({"echo": Echo})
    room = await (await js.client(endpoint(server))).join_or_create("echo")
    await room.send(300, "big-type")
    await eventually(lambda: Echo.received == [(300, "big-type")])
    assert protocol.parse_client_frame(bytes.fromhex("0dcd2c01a8626967 2d74797065".replace(" ", ""))) == \
        protocol.RoomData(300, bytes.fromhex("a8626967 2d74797065".replace(" ", "")))
    await room.send("reply", "number")
    event = await room.wait(kind="message", type=6)
    assert event["message"] == [1, "two", {"three": 3}]
    await room.send("reply", "big")
    event = await room.wait(kind="message", type="big")
    # ints that a float64 holds exactly arrive as Numbers, as from Node
    assert event["message"] == {"int": 2**40, "huge": {"$bigint": str(2**60 + 1)}, "neg": -(2**35), "small": 7}


async def test_30_messages_without_payload(start_server, js) -> None:
    server = await start_server({"echo": Echo})
    room = await (await js.client(endpoint(server))).join_or_create("echo")
    await room.send("nopayload", omit=True)
    await eventually(lambda: Echo.received == [("nopayload", None)])
    event = await room.wait(kind="message", type="nopayload")
    assert event["message"] == {"$undefined": True}
    assert protocol.room_data("nopayload") == bytes.fromhex("0da96e6f7061796c6f6164")


async def test_31_raw_bytes_both_ways(start_server, js) -> None:
    server = await start_server({"echo": Echo})
    room = await (await js.client(endpoint(server))).join_or_create("echo")
    await room.send_bytes("bytes", bytes([1, 2, 3, 255]))
    event = await room.wait(kind="message", type="bytes")
    assert event["message"] == {"$bytes": [1, 2, 3, 255]}
    assert Echo.received == [("bytes", b"\x01\x02\x03\xff")]
    assert protocol.room_data_bytes("bytes", b"\x01\x02\x03\xff") == bytes.fromhex("11a56279746573010203ff")


async def test_32_client_error_keeps_the_connection(start_server, js) -> None:
    server = await start_server({"echo": Echo})
    room = await (await js.client(endpoint(server))).join_or_create("echo")
    await room.send("reply", "error")
    event = await room.wait(kind="error")
    assert (event["code"], event["message"]) == (4999, "custom error")
    await room.send("echo", "still here")
    await eventually(lambda: ("echo", "still here") in Echo.received)
    assert protocol.error(4999, "custom error") == bytes.fromhex("0bcd8713ac637573746f6d206572726f72")


async def test_33_wildcard_handler(start_server, js) -> None:
    server = await start_server({"echo": (Echo, {"wildcard": True})})
    room = await (await js.client(endpoint(server))).join_or_create("echo")
    await room.send("unknown-type", {"x": 1})
    await room.send(77)
    await room.send_bytes("rawtype", b"\x05")
    await eventually(lambda: len(Echo.received) == 3)
    assert Echo.received == [("*", "unknown-type", {"x": 1}), ("*", 77, None), ("*", "rawtype", b"\x05")]


async def test_34_unknown_type_disconnects(start_server, js) -> None:
    server = await start_server({"echo": Echo})
    room = await (await js.client(endpoint(server))).join_or_create("echo")
    await room.send("unknown-type", 1)
    event = await room.wait(kind="leave")
    assert event["code"] == 4002 and event["reason"] == 'room onMessage for "unknown-type" not registered.'


async def test_35_unknown_type_in_dev_mode_is_an_error(start_server, js) -> None:
    server = await start_server({"echo": Echo}, dev_mode=True)
    room = await (await js.client(endpoint(server))).join_or_create("echo")
    await room.send("unknown-type", 1)
    event = await room.wait(kind="error")
    assert (event["code"], event["message"]) == (4217, 'room onMessage for "unknown-type" not registered.')
    await room.send("echo", "open")
    await eventually(lambda: ("echo", "open") in Echo.received)


async def test_36_undecodable_or_invalid_payload_closes_4002(start_server, js) -> None:
    server = await start_server({"echo": Echo})
    sock, _ = await join(endpoint(server), "echo")
    await sock.next(protocol.RoomState)
    await sock.send(bytes.fromhex("0da16192 01"))          # truncated msgpack
    assert await sock.closed() == 4002
    assert not any(isinstance(f, protocol.ErrorMessage) for f in sock.frames)
    room = await (await js.client(endpoint(server))).join_or_create("echo")
    await room.send("checked", {"ok": 5})
    await eventually(lambda: ("checked", 5) in Echo.received)
    await room.send("checked", {"nope": 1})
    assert (await room.wait(kind="leave"))["code"] == 4002


async def test_37_broadcast_except_and_after_next_patch(start_server, js) -> None:
    server = await start_server({"echo": Echo})
    c = await js.client(endpoint(server))
    a = await c.join_or_create("echo")
    b = await c.join_or_create("echo")
    await a.send("broadcast", "hi")
    await b.wait(kind="message", type="b1")
    await asyncio.sleep(0.1)
    assert not [e for e in await a.events("message") if e["type"] == "b1"]
    sock, _ = await join(endpoint(server), "echo")
    await sock.next(protocol.RoomState)
    await sock.send(protocol.room_data("inc", {"by": 1}))
    await sock.send(protocol.room_data("after", "x"))
    data = await sock.next(protocol.RoomData)
    index = sock.frames.index(data)
    assert data.type == "after" and isinstance(sock.frames[index - 1], protocol.RoomPatch)
    await sock.close()


async def test_38_no_automatic_patches_when_patch_rate_is_none(start_server) -> None:
    rooms: list[Room[Any]] = []

    class Manual(Echo):
        def on_create(self, options: dict[str, Any]) -> None:
            super().on_create({"manual": True})
            rooms.append(self)

    server = await start_server({"m": Manual})
    sock, _ = await join(endpoint(server), "m")
    await sock.next(protocol.RoomState)
    await sock.send(protocol.room_data("inc", {"by": 1}))
    await asyncio.sleep(0.3)
    assert not any(isinstance(f, protocol.RoomPatch) for f in sock.frames)
    assert rooms[0].patch_rate is None
    rooms[0].broadcast_patch()
    patch = await sock.next(protocol.RoomPatch)
    assert patch.data == bytes([0x80]) + (1).to_bytes(4, "little")
    await sock.close()


async def test_39_patch_cadence_and_only_acked_clients(start_server) -> None:
    rooms: list[Room[Any]] = []

    class Ticking(Echo):
        def on_create(self, options: dict[str, Any]) -> None:
            super().on_create(options)
            self.set_simulation_interval(lambda dt: setattr(self.state, "count", self.state.count + 1), 10)
            rooms.append(self)

    server = await start_server({"t": Ticking})
    acked, _ = await join(endpoint(server), "t")
    silent, _ = await join(endpoint(server), "t", ack=False)
    await asyncio.sleep(0.6)
    patches = [f for f in acked.frames if isinstance(f, protocol.RoomPatch)]
    assert 8 <= len(patches) <= 14          # about every 50 ms
    assert not any(isinstance(f, (protocol.RoomPatch, protocol.RoomState)) for f in silent.frames)
    await acked.close()
    await silent.close()
