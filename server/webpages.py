"""What the built-in pages (monitor, playground) share: their static files and JSON answers."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web

__all__ = ["STATIC", "static_file", "json_response"]

STATIC = Path(__file__).with_name("static")


def static_file(path: Path, content_type: str) -> web.Response:
    """A file of ``static/``, never cached (a server restart may change it)."""
    return web.Response(body=path.read_bytes(), content_type=content_type, charset="utf-8",
                        headers={"Cache-Control": "no-store"})


def json_response(data: Any) -> web.Response:
    return web.Response(text=json.dumps(data, default=str), content_type="application/json",
                        headers={"Cache-Control": "no-store"})
