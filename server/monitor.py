"""The monitor: rooms, their clients and state, and actions, at ``/monitor``.

Off unless enabled (``Server(monitor=True)``, ``--monitor``). ``password``
asks for HTTP Basic authentication (any user name); ``auth`` is a check of
your own (``auth(request) -> bool``, possibly async) and replaces it. The page
(``static/monitor.html``, plain JavaScript, nothing fetched from elsewhere)
reads a small JSON API, which is the same for scripts:

* ``GET  /monitor/api/rooms``: every listed room (of every process sharing the
  driver), with ``elapsedMs`` and whether it runs in this process;
* ``GET  /monitor/api/rooms/<roomId>``: a room of this process: its listing,
  clients and state (as JSON);
* ``POST /monitor/api/rooms/<roomId>/dispose``: disconnect everyone, dispose;
* ``POST /monitor/api/rooms/<roomId>/clients/<sessionId>/disconnect``: close
  that client (4000, a consented leave).
"""
from __future__ import annotations

import base64
import datetime
import hmac
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from pyseus.protocol import CloseCode

from .matchmaker import Matchmaker
from .webpages import STATIC, json_response, static_file

__all__ = ["install_monitor", "MonitorAuth"]

MonitorAuth = Callable[[web.Request], "bool | Awaitable[bool]"]


def install_monitor(app: web.Application, matchmaker: Matchmaker, *, password: str | None = None,
                    auth: MonitorAuth | None = None, prefix: str = "/monitor") -> None:
    """Add the monitor's routes (for the rooms of ``matchmaker``) to ``app``."""

    async def allowed(request: web.Request) -> bool:
        if auth is not None:
            result = auth(request)
            return bool(await result) if inspect.isawaitable(result) else bool(result)
        if password is None:
            return True
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            given = base64.b64decode(header[6:], validate=True).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(given.encode(), password.encode())

    def guarded(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
        async def run(request: web.Request) -> web.StreamResponse:
            if not await allowed(request):
                return web.Response(status=401, text="monitor: authentication needed",
                                    headers={"WWW-Authenticate": 'Basic realm="pyseus monitor"'})
            return await handler(request)
        return run

    async def page(request: web.Request) -> web.StreamResponse:
        return static_file(STATIC / "monitor.html", "text/html")

    async def rooms(request: web.Request) -> web.StreamResponse:
        now = datetime.datetime.now(datetime.timezone.utc)
        out = []
        for listing in await matchmaker.driver.query({}):
            item = listing.to_json()
            item["elapsedMs"] = int((now - listing.created_at).total_seconds() * 1000)
            item["local"] = listing.room_id in matchmaker.engines
            out.append(item)
        return json_response(out)

    def engine_of(request: web.Request) -> Any:
        engine = matchmaker.engines.get(request.match_info["room_id"])
        if engine is None:
            raise web.HTTPNotFound(text="no such room in this process")
        return engine

    async def room(request: web.Request) -> web.StreamResponse:
        engine = engine_of(request)
        room = engine.room
        state = None
        try:
            state = room.state.to_json()
        except (RuntimeError, AttributeError):
            state = None            # (a room without a state)
        clients = [{"sessionId": c.session_id, "state": c.state.name.lower(),
                    "address": c.remote_address, "view": c.view is not None} for c in room.clients]
        return json_response({"listing": engine.listing.to_json(), "clients": clients, "state": state})

    async def dispose(request: web.Request) -> web.StreamResponse:
        engine = engine_of(request)
        await engine.room.disconnect(CloseCode.CONSENTED)
        return json_response({"disposed": engine.room_id})

    async def disconnect(request: web.Request) -> web.StreamResponse:
        engine = engine_of(request)
        client = engine.room.clients.get(request.match_info["session_id"])
        if client is None:
            raise web.HTTPNotFound(text="no such client in this room")
        client.leave(CloseCode.CONSENTED)
        return json_response({"disconnected": client.session_id})

    router = app.router
    router.add_get(prefix, guarded(page))
    router.add_get(f"{prefix}/api/rooms", guarded(rooms))
    router.add_get(f"{prefix}/api/rooms/{{room_id}}", guarded(room))
    router.add_post(f"{prefix}/api/rooms/{{room_id}}/dispose", guarded(dispose))
    router.add_post(f"{prefix}/api/rooms/{{room_id}}/clients/{{session_id}}/disconnect", guarded(disconnect))

