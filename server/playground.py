"""The playground: join rooms from a browser, watch their state, messages and patches.

Off unless enabled (``Server(playground=True)``, ``--playground``, or ``--dev``).
The page (``static/playground.html``) drives a real Colyseus browser client,
colyseus.js, served by the server itself at ``/playground/colyseus.js``: the
build bundles it (``static/browser-client.json`` pins the version; see
``setup.py``), so the page works with no network. A small JSON API lists what
can be joined:

* ``GET /playground/api/rooms``: ``{"roomTypes": [...], "rooms": [listings],
  "client": {"package", "version", "bundled"}}``.

The playground grants nothing a client could not do: it joins rooms through
the public matchmaking like any other client.
"""
from __future__ import annotations

import json

from aiohttp import web

from .matchmaker import Matchmaker
from .webpages import STATIC, json_response, static_file

__all__ = ["install_playground", "BROWSER_CLIENT"]

_PIN = json.loads((STATIC / "browser-client.json").read_text(encoding="utf-8"))
BROWSER_CLIENT = STATIC / "vendor" / "colyseus.js"
"""Where the build put the browser client (absent when it could not be fetched)."""


def install_playground(app: web.Application, matchmaker: Matchmaker, *, prefix: str = "/playground") -> None:
    """Add the playground's routes (for the room types of ``matchmaker``) to ``app``."""

    async def page(request: web.Request) -> web.StreamResponse:
        return static_file(STATIC / "playground.html", "text/html")

    async def browser_client(request: web.Request) -> web.StreamResponse:
        if not BROWSER_CLIENT.exists():
            return web.Response(status=404, text=_missing_client())
        return static_file(BROWSER_CLIENT, "text/javascript")

    async def rooms(request: web.Request) -> web.StreamResponse:
        listings = [listing.to_json() for listing in await matchmaker.driver.query({})]
        return json_response({
            "roomTypes": sorted(matchmaker.definitions),
            "rooms": listings,
            "client": {"package": _PIN["package"], "version": _PIN["version"], "bundled": BROWSER_CLIENT.exists(),
                       "missing": None if BROWSER_CLIENT.exists() else _missing_client()},
        })

    router = app.router
    router.add_get(prefix, page)
    router.add_get(f"{prefix}/colyseus.js", browser_client)
    router.add_get(f"{prefix}/api/rooms", rooms)


def _missing_client() -> str:
    return (f"the playground's browser client ({_PIN['package']} {_PIN['version']}) was not bundled when pyseus "
            "was built (no network?): reinstall pyseus with access to registry.npmjs.org, or with "
            f"PYSEUS_BROWSER_CLIENT_TGZ=<path to {_PIN['package']}-{_PIN['version']}.tgz>")
