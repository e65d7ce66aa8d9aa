"""The meters and address rules behind the limits (the behaviour over sockets is in hostile/)."""
from __future__ import annotations

import time

import pytest

from pyseus.server import Limits
from pyseus.server.limits import AddressLimiter, FrameMeter, Networks, TokenBucket, client_address


def test_a_bucket_spends_its_burst_then_its_rate(monkeypatch) -> None:
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    bucket = TokenBucket(rate=8, capacity=5)
    assert all(bucket.take() for _ in range(5)) and not bucket.take()
    now[0] += 0.125                     # one token back
    assert bucket.take() and not bucket.take()
    now[0] += 60                        # never above the capacity
    assert sum(bucket.take() for _ in range(10)) == 5
    assert not bucket.full
    now[0] += 0.625
    assert bucket.full


def test_a_frame_meter_counts_messages_and_bytes(monkeypatch) -> None:
    now = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    by_count = FrameMeter(10, 3, 1e9, 1e9)
    assert [by_count.allow(1) for _ in range(4)] == [True, True, True, False]
    by_size = FrameMeter(1e9, 1e9, 100, 1000)
    assert by_size.allow(600) and not by_size.allow(600)


def test_networks_match_addresses_and_mapped_ipv4() -> None:
    nets = Networks(["10.0.0.0/8", "::1", "192.168.1.7"])
    assert "10.2.3.4" in nets and "::1" in nets and "192.168.1.7" in nets
    assert "::ffff:10.0.0.1" in nets                       # an IPv4 client on a dual-stack socket
    assert "11.0.0.1" not in nets and "" not in nets and "nonsense" not in nets
    with pytest.raises(ValueError, match="not an IP"):
        Networks(["10.0.0.0/33"])


def test_the_client_address_is_the_peer_unless_the_peer_is_a_trusted_proxy() -> None:
    proxies = Networks(["127.0.0.1", "10.0.0.0/8"])
    forged = {"X-Forwarded-For": "6.6.6.6, 203.0.113.9, 10.0.0.5", "X-Real-IP": "7.7.7.7"}
    assert client_address("198.51.100.1", forged, proxies) == "198.51.100.1"      # not a proxy: ignored
    # from a proxy: the rightmost address that is not a proxy itself
    assert client_address("127.0.0.1", forged, proxies) == "203.0.113.9"
    assert client_address("127.0.0.1", {"X-Real-IP": "203.0.113.7"}, proxies) == "203.0.113.7"
    assert client_address("127.0.0.1", {}, proxies) == "127.0.0.1"
    assert client_address("127.0.0.1", forged, Networks(())) == "127.0.0.1"


def test_the_address_table_stays_bounded(monkeypatch) -> None:
    now = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    limiter = AddressLimiter(rate=1, burst=2, max_addresses=100)
    assert limiter.allow("a") and limiter.allow("a") and not limiter.allow("a")
    for i in range(1000):                       # many addresses, each over its limit
        limiter.allow(f"x{i}")
        limiter.allow(f"x{i}")
    assert len(limiter) <= 100
    now[0] += 10                                # buckets full again: forgotten as new ones come
    for i in range(50):
        limiter.allow(f"y{i}")
    assert len(limiter) <= 60
    exempt = AddressLimiter(rate=1, burst=1, exempt=Networks(["127.0.0.0/8"]))
    assert all(exempt.allow("127.0.0.1") for _ in range(100)) and len(exempt) == 0


@pytest.mark.parametrize("bad", [dict(messages_per_second=0), dict(message_burst=0), dict(max_rooms=-1),
                                 dict(byte_burst=1.5), dict(rate_limit_exempt=("nope",)),
                                 dict(shutdown_timeout=0), dict(max_json_depth=True)])
def test_limits_are_checked(bad: dict) -> None:
    with pytest.raises(ValueError):
        Limits(**bad)


def test_a_frame_cap_above_the_byte_burst_is_refused() -> None:
    from pyseus.server import Server
    with pytest.raises(ValueError, match="byte_burst"):
        Server(max_payload=2 << 20)
    Server(max_payload=2 << 20, limits=Limits(byte_burst=4 << 20))
