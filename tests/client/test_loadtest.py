"""python -m pyseus.client.loadtest, run briefly against our server."""
from __future__ import annotations

import asyncio
import json
import re
import sys
from typing import Any

from pyseus.client.loadtest import format_summary
from tests.client.rooms import Game
from tests.server.conftest import eventually


class Counted(Game):
    received = 0

    def on_create(self, options: dict[str, Any]) -> None:
        super().on_create(options)
        self.on_message("ping", self.count)

    def count(self, client: Any, message: Any) -> None:
        Counted.received += 1


async def test_fifty_clients_for_five_seconds(start_server) -> None:
    Counted.received = 0
    live = await start_server({"counted": Counted})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyseus.client.loadtest", "--endpoint", live.endpoint, "--room", "counted",
        "--clients", "50", "--duration", "5", "--ramp", "1", "--send-rate", "2", "--message-type", "ping",
        "--options", '{"max": 20}', "--warmup", "2", "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()
    summary = json.loads(stdout)
    assert summary["connected"] == 50 and summary["failed"] == 0 and summary["failures"] == {}
    assert summary["patches_received"] > 50                 # every client gets patches (20 Hz)
    assert summary["bytes_received"] > 0 and summary["patch_interval_p50_ms"] is not None
    assert summary["measured_s"] < summary["duration_s"]    # measured after the ramp and warm-up
    assert summary["patches_per_s"] > 50
    assert summary["messages_sent"] > 0 and Counted.received == summary["messages_sent"]
    # each client sends at its rate from its join to the end (2/s for 4 to 5 s), never in bursts
    assert 50 * 2 * 3 <= summary["messages_sent"] <= 50 * (2 * 5 + 1)
    assert summary["rss_mb"] > 0
    assert b"connected 50/50" in stderr                     # the live progress line
    table = format_summary(summary)
    assert re.search(r"^connected +50 / 50$", table, re.M) and "patch interval p99" in table


async def test_unreachable_endpoint_reports_failures() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyseus.client.loadtest", "--endpoint", "http://127.0.0.1:9", "--room", "x",
        "--clients", "3", "--duration", "1", "--quiet",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    assert re.search(r"^failed joins +3$", stdout.decode(), re.M) and "ConnectionError" in stdout.decode()


class Guarded(Counted):
    tokens: list[Any] = []

    def on_auth(self, client: Any, options: dict[str, Any], request: Any) -> Any:
        Guarded.tokens.append(request.token)
        return request.token == "let-me-in"


async def test_clients_join_with_a_token_and_a_chosen_method(start_server) -> None:
    Guarded.tokens = []
    live = await start_server({"guarded": Guarded})
    room = await live.create_room("guarded")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyseus.client.loadtest", "--endpoint", live.endpoint, f"--room={room.room_id}",
        "--method", "join_by_id", "--auth-token", "let-me-in", "--clients", "4", "--duration", "2", "--json",
        "--quiet", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()
    summary = json.loads(stdout)
    assert summary["connected"] == 4 and summary["failed"] == 0
    assert Guarded.tokens == ["let-me-in"] * 4
    await eventually(lambda: len(room.clients) == 0)      # every client left at the end


async def test_frames_mode_counts_states_without_decoding_them(start_server) -> None:
    live = await start_server({"counted": Counted})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyseus.client.loadtest", "--endpoint", live.endpoint, "--room", "counted",
        "--clients", "20", "--duration", "3", "--ramp", "0.5", "--warmup", "1", "--decode", "frames", "--json",
        "--quiet", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()
    summary = json.loads(stdout)
    assert summary["decode"] is False and summary["connected"] == 20 and summary["patches_per_s"] > 20
    assert "counted, not decoded" in format_summary(summary)
    assert "warning" not in format_summary(summary) or summary["cpu_percent"] >= 85
    busy = dict(summary, cpu_percent=97.0)
    assert "it, not the server, may be the limit" in format_summary(busy)


async def test_a_client_that_does_not_decode_keeps_no_state(start_server) -> None:
    from pyseus.client import Client
    live = await start_server({"counted": Counted})
    async with Client(live.endpoint, decode_state=False) as client:
        room = await client.join_or_create("counted")
        await room.wait_for_next_patch()
        assert room.state is None and room.stats.states == 1
