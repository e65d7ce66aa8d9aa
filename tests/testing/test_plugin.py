"""The pytest helpers: LiveServer through the start_server fixture of the plugin."""
from __future__ import annotations

import pytest

from pyseus.testing import LiveServer
from tests.client.rooms import Game


async def test_create_connect_and_wait(start_server) -> None:
    live = await start_server({"game": (Game, {"mode": "fixed"})})
    assert isinstance(live, LiveServer) and live.endpoint == f"http://127.0.0.1:{live.port}"
    room = await live.create_room("game")
    assert room.metadata == {"mode": "fixed"}          # define() options reached on_create
    player = await live.connect_to(room, {"name": "Ann"})
    assert player.room_id == room.room_id
    assert player.state.players[player.session_id].name == "Ann"   # the full state is there
    player.send("move", {"x": 2, "y": 3})
    client, message = await live.wait_for_message(room, "move")
    assert (client.session_id, message) == (player.session_id, {"x": 2, "y": 3})
    patch = await live.wait_for_next_patch(room)
    assert isinstance(patch, bytes) and patch
    assert await live.wait_for_next_simulation_tick(room) > 0
    await player.wait_for_next_patch()
    assert room.state.players[player.session_id].x == 2
    other = live.new_client(auth_token="abc")
    second = await live.connect_to(room)
    assert second.session_id != player.session_id
    third = await other.join_by_id(room.room_id)
    assert await third.wait_for_message("welcome") == {"sessionId": third.session_id, "auth": {"token": "abc"}}


async def test_waits_are_bounded(start_server) -> None:
    live = await start_server({"game": Game})
    room = await live.create_room("game")
    with pytest.raises(TimeoutError):
        await live.wait_for_message(room, "never", timeout=0.1)
    assert live.server.matchmaker.engines[room.room_id]._observers == []


async def test_teardown_closes_clients_and_servers(start_server) -> None:
    live = await start_server({"game": Game})
    room = await live.create_room("game")
    player = await live.connect_to(room)
    await live.shutdown()
    assert not player.connected and player.close_code == 4000
    assert live.server.matchmaker.rooms == {}


def test_the_plugin_loads_from_its_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sample='''
        from pyseus.server import Room

        class Echo(Room):
            def on_create(self, options):
                self.on_message("echo", lambda client, message: client.send("echo", message))

        async def test_echo(start_server):
            live = await start_server({"echo": Echo})
            room = await live.sdk.join_or_create("echo")
            room.send("echo", {"a": 1})
            assert await room.wait_for_message("echo") == {"a": 1}
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o", "asyncio_mode=auto", timeout=120)
    result.assert_outcomes(passed=1)
