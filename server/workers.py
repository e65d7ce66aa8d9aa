"""``--workers N``: N server processes on consecutive ports, started and stopped together.

Each worker is ``python -m pyseus.server`` with the parent's arguments and a
port of its own; they share matchmaking through Redis. SIGINT or SIGTERM to
the parent is passed on to every worker, which shuts down gracefully; the
parent returns when all have exited (a second signal is passed on too, and
makes them exit at once).
"""
from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

__all__ = ["run_workers"]

log = logging.getLogger("pyseus.server.workers")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_workers(count: int, first_port: int, argv: Sequence[str]) -> int:
    """Run ``count`` workers on ports ``first_port``...; the exit status (the worst one's)."""
    workers: list[subprocess.Popen[bytes]] = []
    stopping: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        stopping.append(signum)
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)

    previous = {sig: signal.signal(sig, forward) for sig in _SIGNALS}
    try:
        for i in range(count):
            port = first_port + i
            command = [sys.executable, "-m", "pyseus.server", *argv, "--port", str(port)]
            workers.append(subprocess.Popen(command, start_new_session=True))
            log.info("worker %d on port %d (pid %d)", i + 1, port, workers[-1].pid)
        statuses: dict[int, int] = {}
        while len(statuses) < len(workers):
            for i, worker in enumerate(workers):
                if i not in statuses and (code := worker.poll()) is not None:
                    statuses[i] = code
                    if not stopping:
                        log.error("worker %d (port %d) exited with status %d", i + 1, first_port + i, code)
            time.sleep(0.05)
        return max((abs(code) for code in statuses.values()), default=0)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
