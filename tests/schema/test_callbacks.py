"""Decoder callbacks: on_add, on_remove, on_change and listen."""
from __future__ import annotations

import logging

import pytest

from pyseus.schema import ArraySchema, Decoder, Encoder, MapSchema, Reflection, Schema, number, string


class Player(Schema):
    name: string = ""
    x: number = 0


class Room(Schema):
    players: MapSchema[Player]
    log: ArraySchema[string]
    round: number = 0


class Session:
    def __init__(self) -> None:
        self.server = Room()
        self.encoder = Encoder(self.server)
        self.state = Reflection.decode(Reflection.encode(self.server))
        self.decoder = Decoder(self.state)
        self.callbacks = self.decoder.callbacks
        self.sync()

    def sync(self) -> None:
        self.decoder.decode(self.encoder.encode())


def test_on_add_and_on_remove_follow_the_collection() -> None:
    s = Session()
    s.server.players["a"] = Player(name="A")
    s.sync()
    events = []
    s.callbacks.on_add(s.state, "players", lambda p, key: events.append(("add", key, p.name)))
    s.callbacks.on_remove(s.state, "players", lambda p, key: events.append(("remove", key, p.name)))
    assert events == [("add", "a", "A")]            # immediate for what is there
    s.server.players["b"] = Player(name="B")
    del s.server.players["a"]
    s.sync()
    assert events[1:] == [("add", "b", "B"), ("remove", "a", "A")]
    s.server.players = MapSchema({"c": Player(name="C")})   # the collection is replaced
    s.sync()
    assert events[3:] == [("remove", "b", "B"), ("add", "c", "C")]


def test_listen_and_on_change_of_an_instance() -> None:
    s = Session()
    s.server.players["a"] = Player(name="A", x=1)
    s.sync()
    player = s.state.players["a"]
    seen, changed = [], []
    detach = s.callbacks.listen(player, "x", lambda value, prev: seen.append((value, prev)))
    s.callbacks.on_change(player, lambda: changed.append(True))
    assert seen == [(1, None)]
    s.server.players["a"].x = 5
    s.server.players["a"].name = "AA"
    s.sync()
    assert seen[1:] == [(5, 1)] and changed == [True]        # once per message
    detach()
    s.server.players["a"].x = 6
    s.sync()
    assert seen[1:] == [(5, 1)] and changed == [True, True]


def test_on_change_of_a_collection_and_of_the_root() -> None:
    s = Session()
    items, root = [], []
    s.callbacks.on_change(s.state.log, lambda value, key: items.append((key, value)))
    s.callbacks.listen(s.state, "round", lambda value, prev: root.append(value), immediate=False)
    s.server.log.append("hello")
    s.server.round = 2
    s.sync()
    assert items == [(0, "hello")] and root == [2]


def test_failing_callback_is_logged_and_others_still_run(caplog) -> None:
    s = Session()
    got = []

    def boom(p, key):
        raise RuntimeError("boom")

    s.callbacks.on_add(s.state, "players", boom)
    s.callbacks.on_add(s.state, "players", lambda p, key: got.append(key))
    s.server.players["z"] = Player()
    with caplog.at_level(logging.ERROR, logger="schema.callbacks"):
        s.sync()
    assert got == ["z"] and "boom" in caplog.text


def test_registration_errors() -> None:
    s = Session()
    with pytest.raises(ValueError, match="not a collection field"):
        s.callbacks.on_add(s.state, "round", lambda *a: None)
    with pytest.raises(ValueError, match="not part of the decoded state"):
        s.callbacks.listen(Player(), "x", lambda *a: None)
    with pytest.raises(ValueError, match="no field 'nope'"):
        s.callbacks.listen(s.state, "nope", lambda *a: None)


def test_callbacks_of_freed_structures_are_dropped() -> None:
    s = Session()
    s.server.players["a"] = Player()
    s.sync()
    player = s.state.players["a"]
    s.callbacks.listen(player, "x", lambda *a: None)
    rid = s.decoder.ref_id(player)
    del s.server.players["a"]
    s.sync()
    assert rid not in s.callbacks._listen
