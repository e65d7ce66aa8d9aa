"""Which origins may call matchmaking with credentials, and open room sockets."""
from __future__ import annotations

from pyseus.server import CorsPolicy


def test_without_a_list_any_page_may_call_without_credentials() -> None:
    headers = CorsPolicy().headers("https://anyone.test")
    assert headers["Access-Control-Allow-Origin"] == "*" and "Access-Control-Allow-Credentials" not in headers


def test_a_list_allows_its_origins_with_credentials_and_no_other() -> None:
    policy = CorsPolicy(["https://game.test/", "https://*.cdn.test"])
    assert policy.allows("https://game.test") and policy.allows("https://GAME.test")
    assert policy.allows("https://a.cdn.test") and policy.allows("https://a.b.cdn.test")
    for origin in ("https://cdn.test", "http://a.cdn.test", "https://evilcdn.test", "https://game.test.evil",
                   "null", ""):
        assert not policy.allows(origin), origin
    assert policy.headers("https://a.cdn.test")["Access-Control-Allow-Credentials"] == "true"
    assert "Access-Control-Allow-Origin" not in policy.headers("https://evil.test")
    assert CorsPolicy(["*"]).headers("https://x.test")["Access-Control-Allow-Origin"] == "*"


def test_dev_mode_echoes_any_origin_unless_a_list_is_given() -> None:
    assert CorsPolicy(permissive=True).headers("https://x.test")["Access-Control-Allow-Origin"] == "https://x.test"
    assert "Access-Control-Allow-Origin" not in CorsPolicy(["https://a.test"], permissive=True).headers("https://x.test")


def test_the_socket_origin_check() -> None:
    policy = CorsPolicy(["https://game.test"], check_origin=True)
    assert policy.socket_allowed({"Origin": "https://game.test"})
    assert policy.socket_allowed({})                                             # native clients send none
    assert policy.socket_allowed({"Origin": "http://srv.test:2567", "Host": "srv.test:2567"})   # its own pages
    assert not policy.socket_allowed({"Origin": "https://evil.test", "Host": "srv.test"})
    assert CorsPolicy(["https://game.test"]).socket_allowed({"Origin": "https://evil.test"})  # (not asked)
