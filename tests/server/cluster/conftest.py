"""A real redis-server and server processes sharing it (tests/server/cluster/app.py)."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parents[3]
APP = Path(__file__).with_name("app.py")


class Process:
    """One server process of the cluster: ``base`` is its HTTP endpoint."""

    def __init__(self, command: list[str], port: int, process_id: str, log: Path) -> None:
        self.port = port
        self.process_id = process_id
        self.base = f"http://127.0.0.1:{port}"
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(command, cwd=ROOT, stdout=self._out, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def wait_listening(self, timeout: float = 20.0) -> None:
        import socket
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"process {self.process_id} exited: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"process {self.process_id} did not listen: {self.log.read_text()[-2000:]}")

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout: float = 20.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._out.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()

    def output(self) -> str:
        self._out.flush()
        return self.log.read_text(errors="replace")


class Cluster:
    def __init__(self, redis: RedisServer, tmp: Path) -> None:
        self.redis = redis
        self.tmp = tmp
        self.processes: list[Process] = []

    def start(self, process_id: str) -> Process:
        port = free_port()
        command = [sys.executable, str(APP), "--port", str(port), "--redis", self.redis.url,
                   "--process-id", process_id]
        process = Process(command, port, process_id, self.tmp / f"{process_id}.log")
        self.processes.append(process)
        process.wait_listening()
        return process

    def stop(self) -> None:
        for process in self.processes:
            process.stop()


@pytest.fixture
def cluster(redis_server: RedisServer, tmp_path: Path) -> Iterator[Cluster]:
    redis_server.command("FLUSHALL")
    c = Cluster(redis_server, tmp_path)
    yield c
    c.stop()


async def eventually(check, timeout: float = 10.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
