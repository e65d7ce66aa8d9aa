"""The ``pyseus`` command (and ``python -m pyseus.server``): run the bundled server.

    pyseus [serve] [--host 0.0.0.0] [--port 2567] [--protocol auto|0.16|0.17|0.18] [--dev]
           [--log-level INFO] [--loop auto|asyncio|uvloop]

It serves the demo rooms of ``pyseus.server.demo`` in memory (no Redis) until
SIGINT or SIGTERM, then shuts down gracefully.
"""
from __future__ import annotations

import argparse
import errno
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from pyseus.loop import LOOPS
from pyseus.protocol import PROFILES

from .demo import define_demo_rooms
from .server import Server

__all__ = ["main"]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"unknown level {value!r} (choose from {', '.join(LOG_LEVELS)})")
    return level


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # one line, not the usage block
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="Run the bundled pyseus room server (demo rooms, in memory).")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=2567, help="port (default 2567)")
    parser.add_argument("--protocol", choices=PROFILES, default="auto",
                        help="client generations served: all of them (auto, the default) or one")
    parser.add_argument("--dev", action="store_true", help="dev mode (unknown messages are errors, not kicks)")
    parser.add_argument("--log-level", type=_log_level, default="INFO", metavar="LEVEL",
                        help=f"one of {', '.join(LOG_LEVELS)} (default INFO)")
    parser.add_argument("--loop", choices=LOOPS, default="auto", help="event loop (auto: uvloop when installed)")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "pyseus") -> None:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["serve"]:
        args_list = args_list[1:]
    parser = _parser(prog)
    args = parser.parse_args(args_list)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = Server(protocol=args.protocol, dev_mode=args.dev)
    define_demo_rooms(server)
    try:
        server.listen(args.port, args.host, loop=args.loop)
    except OSError as e:
        reason = "the port is already in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
        parser.exit(1, f"{prog}: cannot listen on {args.host}:{args.port}: {reason}\n")
