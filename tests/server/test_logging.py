"""What the server logs: rooms created and disposed, joins and leaves at INFO
(with room and session ids), a message of an unknown type at WARNING."""
from __future__ import annotations

import logging
from typing import Any

import pytest

from pyseus.client import Client
from pyseus.server import Room, Server
from tests.server.conftest import endpoint, eventually


class Quiet(Room[Any]):
    def on_create(self, options: dict[str, Any]) -> None:
        self.on_message("known", lambda client, message: None)


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level and r.name.startswith("pyseus.server")]


async def test_rooms_joins_and_leaves_are_logged(start_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pyseus")
    server: Server = await start_server({"quiet": Quiet})
    async with Client(endpoint(server)) as client:
        room = await client.join_or_create("quiet")
        room_id, session_id = room.room_id, room.session_id
        room.send("known")
        room.send("mystery", {"a": 1})
        assert await room.wait_for_leave() == 4002
    await eventually(lambda: f"room {room_id} (quiet) disposed" in _messages(caplog, logging.INFO))
    info = _messages(caplog, logging.INFO)
    assert f"room {room_id} (quiet) created" in info
    assert f"room {room_id} (quiet): {session_id} joined" in info
    assert any(line.startswith(f"room {room_id} (quiet): {session_id} left (not consented, code ") for line in info)
    assert _messages(caplog, logging.WARNING) == [
        f"room {room_id} (quiet): {session_id} sent a message of unknown type 'mystery'"]
