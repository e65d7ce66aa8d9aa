"""The JSON of matchmaking: listings, seat reservations in both forms, errors, ids."""
from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyseus.protocol import ProtocolError, RoomListing, SeatReservation, error_body, is_id, new_id


def test_a_listing_is_written_as_the_reference_writes_it() -> None:
    created = datetime.datetime(2026, 11, 26, 4, 30, 40, 579000, tzinfo=datetime.timezone.utc)
    listing = RoomListing("XiMRIDtWI", "state_room", "SCINXRk8S", clients=1, max_clients=4, created_at=created,
                          filters={"mode": "x"})
    assert listing.to_json() == {
        "clients": 1, "locked": False, "private": False, "maxClients": 4, "unlisted": False,
        "createdAt": "2026-11-26T04:30:40.579Z", "name": "state_room", "processId": "SCINXRk8S",
        "mode": "x", "roomId": "XiMRIDtWI"}
    assert list(listing.to_json())[-1] == "roomId"
    assert listing.field("mode") == "x" and listing.field("maxClients") == 4


def test_a_seat_reservation_reads_both_generations() -> None:
    nested = {"room": {"clients": 1, "name": "r", "processId": "p", "roomId": "id", "publicAddress": "h:1"},
              "sessionId": "s", "devMode": True}
    flat = {"name": "r", "sessionId": "s", "roomId": "id", "processId": "p", "publicAddress": "h:1", "devMode": True}
    assert SeatReservation.from_json(nested) == SeatReservation.from_json(flat) == \
        SeatReservation("r", "id", "p", "s", "h:1", True)
    with pytest.raises(ProtocolError):
        SeatReservation.from_json({"room": {"name": "r"}, "sessionId": "s"})
    with pytest.raises(ProtocolError):
        SeatReservation.from_json(["not", "a", "dict"])


def test_the_0_16_answer_nests_the_listing() -> None:
    listing = RoomListing("id", "r", "p")
    seat = SeatReservation.for_room(listing, "s")
    assert seat.to_json(listing) == {"room": listing.to_json(), "sessionId": "s"}
    assert SeatReservation.for_room(listing, "s", dev_mode=True).to_json(listing)["devMode"] is True
    assert error_body(4212, 'room "x" not found') == {"code": 4212, "error": 'room "x" not found'}


@given(st.integers(min_value=1, max_value=128))
def test_new_ids_are_url_safe(length: int) -> None:
    value = new_id(length)
    assert len(value) == length and is_id(value)
    assert not is_id(value + ":") and not is_id("") and not is_id(None)


# ---- matchmaking bodies ----------------------------------------------------------

import json  # noqa: E402

from hypothesis import settings  # noqa: E402

from pyseus.protocol import parse_options  # noqa: E402


def test_bodies_are_read_as_options() -> None:
    assert parse_options(b"") == {} and parse_options(b"  \n") == {}
    assert parse_options(b'{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    assert parse_options(b"[1, 2]") == {} and parse_options(b"3") == {}       # no options


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 33 + b"1" + b"}" * 33, b"[" * 33 + b"]" * 33,
                                  b'{"a":[' + b"[" * 40 + b"]" * 40 + b"]}"])
def test_bodies_nested_deeper_than_the_bound_are_refused(body: bytes) -> None:
    with pytest.raises(ProtocolError, match="nested deeper than 32"):
        parse_options(body)


def test_the_depth_bound_counts_objects_and_arrays() -> None:
    assert parse_options(b'{"a":' * 31 + b"[1]" + b"}" * 31)
    with pytest.raises(ProtocolError):
        parse_options(b'{"a":' * 32 + b"[1]" + b"}" * 32)


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
                     max_leaves=30)


@settings(max_examples=300, deadline=500)
@given(st.one_of(st.binary(max_size=2048), _json.map(lambda v: json.dumps(v).encode())))
def test_any_body_gives_options_or_a_protocol_error(body: bytes) -> None:
    try:
        options = parse_options(body)
    except ProtocolError:
        return
    assert isinstance(options, dict)


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                     max_leaves=12)
_names = st.text(min_size=1, max_size=12)


@given(room_id=_names, name=_names, process_id=_names, clients=st.integers(0, 10**6),
       max_clients=st.none() | st.integers(0, 10**6), flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
       metadata=st.none() | st.dictionaries(st.text(max_size=5), _json, max_size=3),
       address=st.none() | _names,
       filters=st.dictionaries(st.text(min_size=1, max_size=6).filter(lambda k: k not in {
           "clients", "locked", "private", "maxClients", "unlisted", "createdAt", "name", "processId",
           "publicAddress", "metadata", "roomId"}), _json, max_size=3),
       millis=st.integers(0, 4_000_000_000_000))
def test_a_listing_reads_back_what_it_wrote(room_id: str, name: str, process_id: str, clients: int,
                                            max_clients: int | None, flags: tuple[bool, bool, bool],
                                            metadata: dict | None, address: str | None, filters: dict,
                                            millis: int) -> None:
    created = datetime.datetime.fromtimestamp(millis / 1000, datetime.timezone.utc)
    listing = RoomListing(room_id, name, process_id, clients=clients, max_clients=max_clients, locked=flags[0],
                          private=flags[1], unlisted=flags[2], created_at=created, metadata=metadata,
                          public_address=address, filters=filters)
    assert RoomListing.from_json(listing.to_json()) == listing


@given(data=_json)
def test_a_listing_from_anywhere_is_one_or_a_protocol_error(data: object) -> None:
    # (listings come from a shared Redis, possibly written by other programs)
    try:
        listing = RoomListing.from_json(data)
    except ProtocolError:
        return
    assert isinstance(listing, RoomListing) and isinstance(listing.room_id, str)
