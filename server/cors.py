"""Which web pages may call matchmaking, and open room sockets, from a browser.

``CorsPolicy(origins)``: ``origins`` lists the pages' origins allowed to make
credentialed requests (``"https://game.example.com"``; ``"https://*.example.com"``
for its subdomains). Without a list, any page may call matchmaking but
without credentials (``Access-Control-Allow-Origin: *``); a browser then
refuses the answer to a request made with cookies, such as @colyseus/sdk
0.17+ makes by default, so list the game's origin (or serve the game from the
server's own origin). ``permissive`` (dev mode without a list) echoes any
origin with credentials.

``check_origin`` makes room sockets from browsers obey the same list (a
socket's Origin must be listed, or be the server's own host); sockets
without an Origin header (native clients) are not affected.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from pyseus.protocol import generations

__all__ = ["CorsPolicy"]

_ALLOW_HEADERS = "Origin, X-Requested-With, Content-Type, Accept, Authorization"
_MAX_AGE = "2592000"
# the methods each generation announces (0.17+ answer for a wider router)
_METHODS_0_16 = "OPTIONS, POST, GET"
_METHODS_0_17 = "GET,HEAD,PUT,PATCH,POST,DELETE"


class CorsPolicy:
    def __init__(self, origins: Sequence[str] | None = None, *, permissive: bool = False,
                 check_origin: bool = False, profile: str = "auto") -> None:
        self._exact: set[str] = set()
        self._suffixes: list[tuple[str, str]] = []        # ("https://", ".example.com")
        self._any = False
        for origin in origins or ():
            origin = origin.rstrip("/").lower()
            if origin == "*":
                self._any = True
            elif "://*." in origin:
                scheme, _, host = origin.partition("://*")
                self._suffixes.append((scheme + "://", host))
            else:
                self._exact.add(origin)
        self.listed = origins is not None
        self.permissive = permissive and not self.listed
        self.check_origin = check_origin
        self._methods = _METHODS_0_16 if generations.legacy(profile) else _METHODS_0_17

    def allows(self, origin: str) -> bool:
        """Whether ``origin`` is on the list."""
        origin = origin.rstrip("/").lower()
        if origin in self._exact:
            return True
        return any(origin.startswith(scheme) and origin.endswith(suffix) and
                   len(origin) > len(scheme) + len(suffix) for scheme, suffix in self._suffixes)

    def headers(self, origin: str | None) -> dict[str, str]:
        """The CORS headers of an answer to a request from ``origin``."""
        out = {"Access-Control-Allow-Headers": _ALLOW_HEADERS, "Access-Control-Allow-Methods": self._methods,
               "Access-Control-Max-Age": _MAX_AGE}
        if origin and (self.permissive or self.allows(origin)):
            out["Access-Control-Allow-Origin"] = origin
            out["Access-Control-Allow-Credentials"] = "true"
            out["Vary"] = "Origin"
        elif not self.listed or self._any:
            out["Access-Control-Allow-Origin"] = "*"
        return out

    def socket_allowed(self, headers: Mapping[str, str]) -> bool:
        """Whether a room socket with these request headers may open."""
        origin = headers.get("Origin")
        if not self.check_origin or not origin or self.permissive or self._any or self.allows(origin):
            return True
        host = headers.get("Host", "").lower()
        return bool(host) and urlsplit(origin.lower()).netloc == host
