"""A server whose rooms never finish leaving, for the shutdown tests.

    python -m tests.server.hostile.hanging_app MODE SHUTDOWN_TIMEOUT

MODE "async": ``on_leave`` awaits for ever; "blocking": ``on_leave`` blocks the
event loop (a sync sleep of an hour). Logs go to stderr, the port included.
"""
from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Any

from pyseus.server import Limits, Room, Server


class Hanging(Room[Any]):
    mode = "async"

    async def on_leave(self, client: Any, consented: bool) -> None:
        if Hanging.mode == "blocking":
            time.sleep(3600)
        await asyncio.Event().wait()


def main(mode: str, timeout: float) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    Hanging.mode = mode
    server = Server(limits=Limits(shutdown_timeout=timeout))
    server.define("hanging", Hanging)
    server.listen(0, "127.0.0.1", loop="asyncio")


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
