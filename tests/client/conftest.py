"""Fixtures for the client tests: real Colyseus servers in node
(tests/interop/node_server.mjs; 0.16 pinned in tests/package-lock.json, 0.17 and
0.18 in tests/interop/colyseus-<version>)."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from tests.node import TESTS_DIR, require_node_modules


@pytest.fixture(params=["0.16", "0.17", "0.18"])
def generation(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def node_server(generation: str) -> AsyncIterator[str]:
    """The endpoint of a Node Colyseus server of ``generation`` on 127.0.0.1 (room "game")."""
    require_node_modules()
    # (0.17+ servers use a global WebSocket, which Node 20 has behind this flag)
    flags = ["--experimental-websocket"] if generation != "0.16" else []
    proc = await asyncio.create_subprocess_exec(
        "node", *flags, str(TESTS_DIR / "interop" / "node_server.mjs"), generation, "0", cwd=TESTS_DIR,
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
