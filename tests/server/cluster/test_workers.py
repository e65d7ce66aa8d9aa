"""``python -m pyseus.server --workers N --redis URL``: N processes, one matchmaking, one stop."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

from pyseus.client import Client
from tests.redis_server import RedisServer, free_port

from .conftest import ROOT


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


async def test_workers_share_matchmaking_and_stop_together(redis_server: RedisServer) -> None:
    redis_server.command("FLUSHALL")
    port = free_port(span=2)
    parent = subprocess.Popen(
        [sys.executable, "-m", "pyseus.server", "--workers", "2", "--redis", redis_server.url,
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "WARNING"],
        cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not (_listening(port) and _listening(port + 1)):
            assert parent.poll() is None, parent.stdout.read().decode() if parent.stdout else ""
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        redis = redis_server.client()
        deadline = time.monotonic() + 10
        while redis.hlen("roomcount") < 2:
            assert time.monotonic() < deadline, "the workers did not register"
            time.sleep(0.05)
        nodes = sorted(n.split("/", 1)[1] for n in redis.smembers("colyseus:nodes"))
        assert nodes == [f"127.0.0.1:{port}", f"127.0.0.1:{port + 1}"]
        async with Client(f"http://127.0.0.1:{port}") as client:
            first = await client.create("chat")
            second = await client.create("chat")        # the other worker has fewer rooms
            hosts = {json.loads(v)["processId"] for v in redis.hgetall("roomcaches").values()}
            assert len(hosts) == 2 and first.room_id != second.room_id
            async with Client(f"http://127.0.0.1:{port + 1}") as other:
                joined = await other.join_by_id(first.room_id)
                assert joined.room_id == first.room_id
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(30) == 0
        assert not _listening(port) and not _listening(port + 1)
        assert redis.keys("*") == []        # each worker took its own entries along
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_workers_need_redis_and_a_reachable_redis_is_checked() -> None:
    run = [sys.executable, "-m", "pyseus.server", "--host", "127.0.0.1"]
    no_redis = subprocess.run([*run, "--workers", "2"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert no_redis.returncode == 2 and "--workers needs --redis" in no_redis.stderr
    gone = subprocess.run([*run, "--port", str(free_port()), "--redis", f"redis://127.0.0.1:{free_port()}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert gone.returncode == 1 and "unreachable" in gone.stderr
