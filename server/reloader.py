"""``--reload``: run the server in a child process and start it again when a
Python file under the current directory changes.

The old process gets SIGUSR2 (a graceful shutdown before a restart: rooms close
their clients with 4010, which clients answer by reconnecting); the new one
starts once it has exited. SIGINT or SIGTERM stop the child and the watcher.
A child that crashes is started again at the next change.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["run_with_reload", "python_files"]

log = logging.getLogger("pyseus.server.reloader")

_SKIP = {".git", ".venv", "venv", "node_modules", "__pycache__", "build", "dist", ".mypy_cache", ".pytest_cache"}
_POLL = 0.5


def python_files(root: Path) -> dict[str, float]:
    """Modification times of the Python files under ``root`` (virtualenvs, VCS and build folders aside)."""
    found: dict[str, float] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP and not d.startswith(".")]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with contextlib.suppress(OSError):          # (gone since it was listed)
                    found[path] = os.stat(path).st_mtime
    return found


def run_with_reload(argv: Sequence[str], root: Path | None = None) -> int:
    """Run ``python -m pyseus.server argv`` until SIGINT/SIGTERM, restarting it on changes."""
    root = root or Path.cwd()
    stopping: list[int] = []
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, _frame: object) -> None:
        stopping.append(signum)
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        seen = python_files(root)
        while not stopping:
            child = subprocess.Popen([sys.executable, "-m", "pyseus.server", *argv])
            while not stopping:
                time.sleep(_POLL)
                now = python_files(root)
                if now != seen:
                    changed = sorted(set(now.items()) ^ set(seen.items()))
                    seen = now
                    log.warning("%s changed: restarting", os.path.relpath(changed[0][0], root) if changed else "?")
                    break
                if child.poll() is not None and not stopping:
                    log.error("the server exited with status %s; waiting for a change to start it again",
                              child.returncode)
                    while not stopping and python_files(root) == seen:
                        time.sleep(_POLL)
                    seen = python_files(root)
                    break
            if child.poll() is None:
                child.send_signal(signal.SIGTERM if stopping else signal.SIGUSR2)
            child.wait()
        return 0
    finally:
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
