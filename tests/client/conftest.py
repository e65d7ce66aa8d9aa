"""Fixtures for the client tests: real Colyseus servers in node
(tests/interop/node_server.mjs; 0.16 pinned in tests/package-lock.json, 0.17 and
0.18 in tests/interop/colyseus-<version>)."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.node import node_colyseus_server


@pytest.fixture(params=["0.16", "0.17", "0.18"])
def generation(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def node_server(generation: str) -> AsyncIterator[str]:
    """The endpoint of a Node Colyseus server of ``generation`` on 127.0.0.1 (room "game")."""
    async with node_colyseus_server(generation) as endpoint:
        yield endpoint
