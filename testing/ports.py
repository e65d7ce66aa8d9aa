"""Free ports on 127.0.0.1, for servers started by tests and benchmarks."""
from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port(span: int = 1) -> int:
    """A port free on 127.0.0.1 now (with ``span``: the first of that many free in a row)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if all(_bindable(port + i) for i in range(1, span)):
            return port


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
