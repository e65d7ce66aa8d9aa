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
