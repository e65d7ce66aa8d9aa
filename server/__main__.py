"""``python -m server``: the bundled server with a few demo rooms (in-memory, no Redis).

    python -m server [--host 0.0.0.0] [--port 2567] [--dev] [--loop auto|asyncio|uvloop]
"""
from __future__ import annotations

import argparse
import logging

from .demo import define_demo_rooms
from .server import Server


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m server", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=2567)
    parser.add_argument("--dev", action="store_true", help="dev mode (unknown messages are errors, not kicks)")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto",
                        help="event loop (auto: uvloop when it is installed)")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = Server(dev_mode=args.dev)
    define_demo_rooms(server)
    server.listen(args.port, args.host, loop=args.loop)


if __name__ == "__main__":
    main()
