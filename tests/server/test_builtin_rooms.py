"""StateView, LobbyRoom and RelayRoom with real clients, against the real Node server too.

Each scenario runs on our server and on Node Colyseus 0.16 (tests/interop/node_server.mjs,
whose "cards" room is the twin of ``CardsRoom`` here) with colyseus.js 0.16.22, and must
give every client the same states and messages; then on our server with @colyseus/sdk
0.17 and 0.18, which must see the same.
"""
from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from pyseus.client import Client as PyClient
from pyseus.protocol import RoomListing
from pyseus.schema import ArraySchema, MapSchema, Schema, StateView, field, number, string
from pyseus.server import Client, LobbyRoom, LocalDriver, RelayRoom, Room, Server
from tests.node import node_colyseus_server
from tests.server.conftest import JS, JSClient, JSRoom, endpoint, eventually

SETTLE = 0.35          # patches go out every 50 ms: this is several of them


class Card(Schema):
    v: number = 0


class CardPlayer(Schema):
    name: string = ""
    hand: ArraySchema[Card] = field(default_factory=ArraySchema, view=True)


class CardState(Schema):
    players: MapSchema[CardPlayer] = field(default_factory=MapSchema)
    round: number = 0


class CardsRoom(Room[CardState]):
    """Hidden hands: each player sees its own; "reveal"/"hide"/"peek" change what one sees."""

    def on_create(self, options: dict[str, Any]) -> None:
        self.set_state(CardState())
        self.joined = 0
        self.on_message("reveal", lambda c, name: c.view.add(self.by_name(name)))
        self.on_message("hide", lambda c, name: c.view.remove(self.by_name(name)))
        self.on_message("peek", lambda c, m: c.view.add(self.by_name(m["name"]).hand[m["index"]]))
        self.on_message("deal", self.deal)
        self.on_message("discard", lambda c, _: self.state.players[c.session_id].hand.pop(0))

    def by_name(self, name: str) -> CardPlayer:
        return next(p for p in self.state.players.values() if p.name == name)

    def deal(self, client: Client, v: float) -> None:
        self.state.players[client.session_id].hand.append(Card(v=v))
        self.state.round += 1

    def on_join(self, client: Client, options: dict[str, Any], auth: Any = None) -> None:
        player = CardPlayer(name=options["name"])
        self.joined += 1
        for i in range(3):
            player.hand.append(Card(v=self.joined * 10 + i))
        self.state.players[client.session_id] = player
        client.view = StateView()
        client.view.add(player)


class Arena(Room[Any]):
    """The Node server's "game" room as far as lobbies see it: metadata from options."""

    def on_create(self, options: dict[str, Any]) -> None:
        self.set_metadata({"mode": options.get("mode", "default")})


class Bare(Room[Any]):
    pass


async def start_ours(start_server: Any, **kwargs: Any) -> str:
    live = await start_server({"cards": CardsRoom, "lobby": LobbyRoom, "relay": RelayRoom}, **kwargs)
    server: Server = live if isinstance(live, Server) else live.server
    server.define("arena", Arena).enable_realtime_listing()
    server.define("bare", Bare).enable_realtime_listing()
    return endpoint(server)


@pytest.fixture
async def node_016() -> AsyncIterator[str]:
    async with node_colyseus_server("0.16") as url:
        yield url


async def states(rooms: dict[str, JSRoom]) -> dict[str, Any]:
    """Each client's state, with players by name (session ids differ between runs)."""
    await asyncio.sleep(SETTLE)
    out = {}
    for who, room in rooms.items():
        state = (await room.info())["state"]
        state["players"] = {p["name"]: p for p in state["players"].values()}
        out[who] = state
    return out


# what both servers do right (Node 0.16 neither shows a card dealt into a hand the view
# already shows, nor a single card added to the view: schema issues #218 and #226)
COMMON_STEPS = [("b", "reveal", "a"), ("b", "hide", "a"), ("a", "discard", None), ("a", "reveal", "b"),
                ("b", "discard", None), ("a", "hide", "b")]
OUR_STEPS = [("b", "reveal", "a"), ("a", "deal", 99), ("b", "hide", "a"), ("b", "peek", {"name": "a", "index": 1}),
             ("a", "discard", None), ("a", "deal", 7), ("a", "reveal", "b"), ("b", "discard", None)]


async def cards_scenario(js: JS, url: str, steps: list[tuple[str, str, Any]]) -> list[dict[str, Any]]:
    a = await (await js.client(url)).join_or_create("cards", {"name": "a"})
    b = await (await js.client(url)).join_or_create("cards", {"name": "b"})
    rooms = {"a": a, "b": b}
    seen = [await states(rooms)]
    for who, kind, message in steps:
        await rooms[who].send(kind, message)
        seen.append(await states(rooms))
    return seen


def hands(state: dict[str, Any], name: str) -> list[float] | None:
    player = state["players"][name]
    return [c["v"] for c in player["hand"]] if "hand" in player else None


async def test_views_match_node(js: JS, start_server: Any, node_016: str) -> None:
    ours = await cards_scenario(js, await start_ours(start_server), COMMON_STEPS)
    theirs = await cards_scenario(js, node_016, COMMON_STEPS)
    for seq in (ours, theirs):
        assert [(hands(s["a"], "a"), hands(s["a"], "b"), hands(s["b"], "a"), hands(s["b"], "b")) for s in seq] == [
            ([10, 11, 12], None, None, [20, 21, 22]),
            ([10, 11, 12], None, [10, 11, 12], [20, 21, 22]),          # b reveals a
            ([10, 11, 12], None, None, [20, 21, 22]),                  # and hides it again
            ([11, 12], None, None, [20, 21, 22]),                      # a discards
            ([11, 12], [20, 21, 22], None, [20, 21, 22]),              # a reveals b
            ([11, 12], [21, 22], None, [21, 22]),                      # b discards: a sees it
            ([11, 12], None, None, [21, 22]),                          # a hides b
        ]
    assert ours == theirs


async def test_views_follow_changes_and_single_items(js: JS, start_server: Any) -> None:
    seq = await cards_scenario(js, await start_ours(start_server), OUR_STEPS)
    assert [(hands(s["a"], "a"), hands(s["a"], "b"), hands(s["b"], "a"), hands(s["b"], "b")) for s in seq] == [
        ([10, 11, 12], None, None, [20, 21, 22]),
        ([10, 11, 12], None, [10, 11, 12], [20, 21, 22]),              # b reveals a
        ([10, 11, 12, 99], None, [10, 11, 12, 99], [20, 21, 22]),      # a card dealt to a: both see it
        ([10, 11, 12, 99], None, None, [20, 21, 22]),                  # b hides a
        ([10, 11, 12, 99], None, [11], [20, 21, 22]),                  # b peeks at one card of a
        ([11, 12, 99], None, [11], [20, 21, 22]),                      # a discards another card
        ([11, 12, 99, 7], None, [11], [20, 21, 22]),                   # a new card: not peeked at
        ([11, 12, 99, 7], [20, 21, 22], [11], [20, 21, 22]),           # a reveals b
        ([11, 12, 99, 7], [21, 22], [11], [21, 22]),                   # b discards
    ]
    assert all(s["a"]["round"] == s["b"]["round"] for s in seq)


# ---------------------------------------------------------------- lobby


async def lobby_scenario(js: JS, url: str) -> dict[str, Any]:
    watcher = await js.client(url)
    lobby = await watcher.join_or_create("lobby")
    rooms_first = await lobby.wait(kind="message", type="rooms")
    player = await js.client(url)
    arena = await player.create("arena", {"mode": "x"})
    info = await arena.info()
    second = await (await js.client(url)).join_by_id(info["roomId"])
    await asyncio.sleep(SETTLE)
    await lobby.send("filter", {"name": "arena", "metadata": {"mode": "y"}})
    filtered = await lobby.wait(kind="message", type="rooms", timeout=5)
    await lobby.send("filter", {"name": "arena"})
    await lobby.wait(kind="message", type="rooms", timeout=5)
    await asyncio.sleep(SETTLE)
    mark = len(await lobby.events())
    await second.leave()
    await arena.leave()
    await lobby.wait(kind="message", type="-")
    events = await lobby.events("message")
    updates = [(e["type"], e["message"]) for e in events if e["type"] in ("+", "-")]
    return {"first": rooms_first["message"], "filtered": filtered["message"], "updates": updates,
            "room_id": info["roomId"], "after_leaves": [(e["type"], e["message"]) for e in
                                                       (await lobby.events("message"))[mark:]]}


def _summary(result: dict[str, Any]) -> list[tuple[str, Any]]:
    room_id = result["room_id"]
    out = []
    for kind, message in result["updates"]:
        if kind == "-":
            out.append(("-", message == room_id))
        else:
            rid, listing = message
            out.append(("+", rid == room_id, listing["clients"], listing["name"], listing["metadata"],
                        listing["maxClients"], "$date" in listing["createdAt"], listing["locked"]))
    return out


async def test_lobby_matches_node(js: JS, start_server: Any, node_016: str) -> None:
    ours = await lobby_scenario(js, await start_ours(start_server))
    theirs = await lobby_scenario(js, node_016)
    for result in (ours, theirs):
        assert result["first"] == [] and result["filtered"] == []
        summary = _summary(result)
        # create, then two joins; leaves update it; the dispose removes it
        assert summary[:3] == [("+", True, n, "arena", {"mode": "x"}, {"$number": "Infinity"}, True, False)
                               for n in (0, 1, 2)]
        assert ("-", True) == summary[-1]
    assert _summary(ours) == _summary(theirs)


async def test_a_metadata_filter_and_a_room_without_metadata(js: JS, start_server: Any) -> None:
    # (the reference crashes on this)
    url = await start_ours(start_server)
    lobby = await (await js.client(url)).join_or_create("lobby", {"filter": {"name": "bare"}})
    assert (await lobby.wait(kind="message", type="rooms"))["message"] == []
    other = await (await js.client(url)).join_or_create("lobby", {"filter": {"metadata": {"mode": "x"}}})
    await other.wait(kind="message", type="rooms")
    bare = await (await js.client(url)).create("bare")
    added = await lobby.wait(kind="message", type="+")
    room_id = added["message"][0]
    assert "metadata" not in added["message"][1]
    await asyncio.sleep(SETTLE)
    assert [e for e in await other.events("message") if e["type"] in ("+", "-")] == []
    await bare.leave()
    assert (await lobby.wait(kind="message", type="-"))["message"] == room_id


async def test_lobby_sees_locks_and_private_rooms(start_server: Any, js: JS) -> None:
    live = await start_server({"lobby": LobbyRoom})
    server = live if isinstance(live, Server) else live.server
    server.define("bare", Bare).enable_realtime_listing()
    lobby = await (await js.client(endpoint(server))).join_or_create("lobby")
    await lobby.wait(kind="message", type="rooms")
    room = await server.create_room("bare")
    await lobby.wait(kind="message", type="+")

    async def next_update(after: int) -> dict[str, Any]:
        for _ in range(50):
            events = [e for e in await lobby.events("message") if e["type"] in ("+", "-")]
            if len(events) > after:
                return events[after]
            await asyncio.sleep(0.05)
        raise AssertionError("no lobby update")

    room.lock()
    update = await next_update(1)
    assert update["type"] == "+" and update["message"][1]["locked"] is True
    room.unlock()
    assert (await next_update(2))["message"][1]["locked"] is False
    room.set_private()
    update = await next_update(3)
    assert (update["type"], update["message"]) == ("-", room.room_id)
    room.set_private(False)
    assert (await next_update(4))["type"] == "+"
    await room.disconnect()
    assert (await next_update(5))["type"] == "-"


class SlowStore(LocalDriver):
    """Keeps a copy of each listing as it was when saved, and answers a save late
    (as Redis does: the values leave with the request, the reply comes later)."""

    async def save(self, listing: RoomListing) -> None:
        copy = dataclasses.replace(listing)
        await asyncio.sleep(0.15)
        await super().save(copy)


async def test_a_lobby_is_told_of_a_change_only_once_it_is_stored(start_server: Any) -> None:
    # a change made while an older listing is being written must be announced after its
    # own write, or lobbies (which read the store when told) keep the older values
    server = await start_server({"lobby": LobbyRoom}, driver=SlowStore())
    server.define("bare", Bare).enable_realtime_listing()
    async with PyClient(endpoint(server)) as client:
        lobby = await client.join_or_create("lobby")
        assert await lobby.wait_for_message("rooms") == []
        added: list[Any] = []
        lobby.on_message("+", added.append)
        room = await server.create_room("bare")
        await asyncio.sleep(0.05)           # (the first save of its listing is in flight)
        room.lock()
        await eventually(lambda: any(item[1]["locked"] for item in added), timeout=5)
        assert all(item[0] == room.room_id for item in added)


# ---------------------------------------------------------------- relay


async def relay_scenario(js: JS, url: str) -> dict[str, Any]:
    ca, cb = await js.client(url), await js.client(url)
    a = await ca.create("relay", {"maxClients": 4, "allowReconnectionTime": 5, "metadata": {"m": 1}})
    ida = (await a.info())["sessionId"]
    b = await cb.join_by_id((await a.info())["roomId"], {"name": "bee"})
    idb = (await b.info())["sessionId"]
    await a.send("chat", {"text": "hi"})
    got = await b.wait(kind="message", type="chat")
    await a.send(7, "num")
    got7 = await b.wait(kind="message", type=7)
    await asyncio.sleep(SETTLE)
    state = (await b.info())["state"]
    a_got = [e for e in await a.events("message") if e["type"] in ("chat", 7)]
    # b drops and comes back with its reconnection token
    token = (await b.info())["reconnectionToken"]
    await b.drop()
    await asyncio.sleep(SETTLE)
    dropped = (await a.info())["state"]["players"][idb]["connected"]
    back = await (await js.client(url)).reconnect(token)
    await asyncio.sleep(SETTLE)
    reconnected = (await a.info())["state"]["players"][idb]["connected"]
    await back.leave()
    await asyncio.sleep(SETTLE)
    after_leave = idb in (await a.info())["state"]["players"]
    return {"chat": got["message"] == [ida, {"text": "hi"}], "seven": got7["message"] == [ida, "num"],
            "a_got": a_got, "players": sorted((p.get("name", ""), p["connected"],
                                               p["sessionId"] in (ida, idb)) for p in state["players"].values()),
            "dropped": dropped, "reconnected": reconnected, "after_leave": after_leave}


async def test_relay_matches_node(js: JS, start_server: Any, node_016: str) -> None:
    ours = await relay_scenario(js, await start_ours(start_server))
    theirs = await relay_scenario(js, node_016)
    assert ours == {"chat": True, "seven": True, "a_got": [], "players": [("", True, True), ("bee", True, True)],
                    "dropped": False, "reconnected": True, "after_leave": False}
    assert ours == theirs


async def test_relay_without_reconnection_keeps_players(start_server: Any, js: JS) -> None:
    url = await start_ours(start_server)
    a = await (await js.client(url)).create("relay")
    b = await (await js.client(url)).join_by_id((await a.info())["roomId"], {"name": "b"})
    idb = (await b.info())["sessionId"]
    await b.leave()
    await asyncio.sleep(SETTLE)
    assert (await a.info())["state"]["players"][idb]["connected"] is True     # (as the reference does)


# ---------------------------------------------------------------- every generation


@pytest.mark.parametrize("profile", ["auto"])         # (one endpoint for every generation)
@pytest.mark.parametrize("generation", ["0.17", "0.18"])
async def test_every_generation_sees_the_same_views_and_lobbies(sdk: Callable[[str], Awaitable[JS]], js: JS,
                                                                 start_server: Any, generation: str) -> None:
    client = await sdk(generation)
    reference = await cards_scenario(js, await start_ours(start_server), OUR_STEPS)
    assert await cards_scenario(client, await start_ours(start_server), OUR_STEPS) == reference
    reference_lobby = _summary(await lobby_scenario(js, await start_ours(start_server)))
    assert _summary(await lobby_scenario(client, await start_ours(start_server))) == reference_lobby


class ReconnectableCards(CardsRoom):
    def on_drop(self, client: Client, code: int) -> None:
        self.allow_reconnection(client, 10)


async def test_a_reconnected_client_sees_its_view_again(js: JS, start_server: Any) -> None:
    live = await start_server({"cards": ReconnectableCards})
    server = live if isinstance(live, Server) else live.server
    url = endpoint(server)
    a = await (await js.client(url)).join_or_create("cards", {"name": "a"})
    b = await (await js.client(url)).join_or_create("cards", {"name": "b"})
    await b.send("reveal", "a")
    await asyncio.sleep(SETTLE)
    token = (await b.info())["reconnectionToken"]
    await b.drop()
    await asyncio.sleep(SETTLE)
    await a.send("deal", 5)                      # while b is away
    back = await (await js.client(url)).reconnect(token)
    state = (await states({"b": back}))["b"]
    assert hands(state, "b") == [20, 21, 22] and hands(state, "a") == [10, 11, 12, 5]
