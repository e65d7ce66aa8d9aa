"""Running the official JavaScript packages from the tests.

``NodeScript`` keeps one node process alive and exchanges one JSON line per
request, so that hundreds of property-test examples cost one node start.
The npm packages are installed under tests/ by the test command (npm ci).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

TESTS_DIR = Path(__file__).resolve().parent


# the npm projects the test command installs (npm ci), each pinned by its lockfile
NPM_PROJECTS = (TESTS_DIR, TESTS_DIR / "interop" / "colyseus-0.17", TESTS_DIR / "interop" / "colyseus-0.18")


def require_node_modules() -> None:
    if shutil.which("node") is None:
        raise RuntimeError("node is not installed; the interop tests need Node.js 20")
    for project in NPM_PROJECTS:
        if not (project / "node_modules").is_dir():
            raise RuntimeError(f"{project}/node_modules is missing: run the test command from README.md "
                               "(it runs `npm ci` in each npm project under tests/)")


class NodeScript:
    def __init__(self, script: str, timeout: float = 60.0) -> None:
        require_node_modules()
        self.timeout = timeout
        self.proc = subprocess.Popen(
            ["node", str(TESTS_DIR / script)], cwd=TESTS_DIR, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(payload) + "\n")
        self.proc.stdin.flush()
        try:
            line = self._lines.get(timeout=self.timeout)
        except queue.Empty:
            raise TimeoutError(f"node did not answer within {self.timeout}s") from None
        if line is None:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"node exited: {err[-2000:]}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"node failed: {reply['error']}")
        return reply

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class AsyncNodeScript:
    """A node script spoken to from asyncio (replies are matched to requests by id)."""

    def __init__(self, proc: Any, timeout: float) -> None:
        self.proc = proc
        self.timeout = timeout
        self._next = 0
        self._pending: dict[int, Any] = {}
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, script: str, *args: str, timeout: float = 20.0) -> "AsyncNodeScript":
        require_node_modules()
        proc = await asyncio.create_subprocess_exec(
            "node", str(TESTS_DIR / script), *args, cwd=TESTS_DIR, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, limit=64 * 1024 * 1024)
        return cls(proc, timeout)

    async def _read(self) -> None:
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            try:
                reply = json.loads(line)
            except ValueError:
                continue        # not a reply (something the script printed)
            future = self._pending.pop(reply["id"], None)
            if future is not None and not future.done():
                future.set_result(reply)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(RuntimeError("node exited"))

    async def request(self, cmd: str, timeout: float | None = None, **args: Any) -> dict[str, Any]:
        self._next += 1
        future = asyncio.get_running_loop().create_future()
        self._pending[self._next] = future
        self.proc.stdin.write((json.dumps({"id": self._next, "cmd": cmd, **args}) + "\n").encode())
        await self.proc.stdin.drain()
        return await asyncio.wait_for(future, timeout or self.timeout)

    async def close(self) -> None:
        self._reader.cancel()
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


@contextlib.asynccontextmanager
async def node_colyseus_server(generation: str = "0.16") -> AsyncIterator[str]:
    """A real Node Colyseus server of ``generation`` (tests/interop/node_server.mjs) on a free
    127.0.0.1 port; yields its endpoint and kills it at the end."""
    require_node_modules()
    # (0.17+ servers use a global WebSocket, which Node 20 has behind this flag)
    flags = ["--experimental-websocket"] if generation != "0.16" else []
    proc = await asyncio.create_subprocess_exec(
        "node", *flags, str(TESTS_DIR / "interop" / "node_server.mjs"), generation, "0", cwd=TESTS_DIR,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    assert proc.stdout is not None
    drain: asyncio.Future[bytes] | None = None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line.startswith(b"{"):
            rest = await asyncio.wait_for(proc.stdout.read(), 5)
            raise RuntimeError(f"the node server did not start: {(line + rest).decode(errors='replace')}")
        port = json.loads(line)["listening"]
        # keep reading its output so that the pipe never fills up
        drain = asyncio.ensure_future(proc.stdout.read())
        yield f"http://127.0.0.1:{port}"
    finally:
        if drain is not None:
            drain.cancel()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
