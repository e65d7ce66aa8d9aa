"""Fixtures for the client tests: a real Colyseus 0.16 server in node
(tests/client/node_server.mjs, packages pinned in tests/package-lock.json)."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from tests.node import TESTS_DIR, require_node_modules


@pytest.fixture
async def node_server() -> AsyncIterator[str]:
    """The endpoint of a Node Colyseus 0.16 server on 127.0.0.1 (room "game")."""
    require_node_modules()
    proc = await asyncio.create_subprocess_exec(
        "node", str(TESTS_DIR / "client" / "node_server.mjs"), "0", cwd=TESTS_DIR,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line.startswith(b"{"):
            rest = await asyncio.wait_for(proc.stdout.read(), 5)
            raise RuntimeError(f"the node server did not start: {(line + rest).decode(errors='replace')}")
        port = json.loads(line)["listening"]
        # keep reading its output so that the pipe never fills up
        drain = asyncio.ensure_future(proc.stdout.read())
        yield f"http://127.0.0.1:{port}"
        drain.cancel()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
