"""The ``pyseus`` command (and ``python -m pyseus.server``): run the bundled server.

    pyseus [serve] [module:attr] [--reload] [--host 0.0.0.0] [--port 2567] [--protocol auto|0.16|0.17|0.18] [--dev]
           [--log-level INFO] [--loop auto|asyncio|uvloop] [--monitor [--monitor-password PW]] [--playground]
           [--redis redis://127.0.0.1:6379] [--workers N] [--public-address HOST:PORT]

It serves your ``Server`` (``module:attr``), or the demo rooms of
``pyseus.server.demo``, until SIGINT or SIGTERM, then
shuts down gracefully: in memory by default, or sharing matchmaking with other
processes through Redis (``--redis``). ``--workers N`` starts N such processes
on ports P..P+N-1 and stops them all on SIGINT or SIGTERM.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import inspect
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from pyseus.loop import LOOPS
from pyseus.protocol import PROFILES

from .demo import define_demo_rooms
from .presence import PresenceError
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
    parser = _Parser(prog=prog, description="Run a pyseus room server: yours (module:attr) or the bundled demo rooms.")
    parser.add_argument("app", nargs="?", default=None, metavar="module:attr",
                        help="your server: a Server, or a function returning one, in an importable module "
                             "(default: the demo rooms)")
    parser.add_argument("--reload", action="store_true",
                        help="restart when a Python file under the current directory changes")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=2567, help="port (default 2567)")
    parser.add_argument("--protocol", choices=PROFILES, default="auto",
                        help="client generations served: all of them (auto, the default) or one")
    parser.add_argument("--dev", action="store_true",
                        help="dev mode: unknown messages are errors, not kicks; the playground is on")
    parser.add_argument("--log-level", type=_log_level, default="INFO", metavar="LEVEL",
                        help=f"one of {', '.join(LOG_LEVELS)} (default INFO)")
    parser.add_argument("--loop", choices=LOOPS, default="auto", help="event loop (auto: uvloop when installed)")
    parser.add_argument("--monitor", action="store_true", help="serve the monitor at /monitor")
    parser.add_argument("--monitor-password", metavar="PW", default=None,
                        help="ask for this password (HTTP Basic, any user name) on /monitor")
    parser.add_argument("--playground", action="store_true",
                        help="serve the playground at /playground (on with --dev)")
    parser.add_argument("--redis", metavar="URL", default=None,
                        help="share rooms and matchmaking with other processes through this Redis "
                             "(e.g. redis://127.0.0.1:6379; needs pip install 'pyseus[redis]')")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="run N processes on ports P..P+N-1 (needs --redis)")
    parser.add_argument("--public-address", metavar="ADDRESS", default=None,
                        help="where clients reach this process, as host:port; '{port}' is replaced by each "
                             "worker's port (default with --redis: the --host, or 127.0.0.1, and the port)")
    return parser


def _public_address(args: argparse.Namespace, port: int) -> str | None:
    if args.public_address:
        return str(args.public_address).replace("{port}", str(port))
    if not args.redis:
        return None
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    return f"{host}:{port}"


def main(argv: Sequence[str] | None = None, prog: str = "pyseus") -> None:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["codegen"]:
        sys.exit(codegen_main(args_list[1:], f"{prog} codegen"))
    if args_list[:1] == ["serve"]:
        args_list = args_list[1:]
    parser = _parser(prog)
    args = parser.parse_args(args_list)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.workers > 1:
        if not args.redis:
            parser.error("--workers needs --redis (the processes share matchmaking through it)")
        if args.public_address and "{port}" not in args.public_address:
            parser.error("with --workers, --public-address needs '{port}' (each worker has its own)")
        from .workers import run_workers
        sys.exit(run_workers(args.workers, args.port, _worker_argv(args_list)))
    if args.reload:
        from .reloader import run_with_reload
        sys.exit(run_with_reload([a for a in args_list if a != "--reload"]))
    presence = driver = None
    if args.redis:
        try:
            from .redis import RedisDriver, RedisPresence
        except ImportError:
            parser.exit(1, f"{prog}: --redis needs redis-py: pip install 'pyseus[redis]'\n")
        presence, driver = RedisPresence(args.redis), RedisDriver(args.redis)
    settings = {"protocol": args.protocol, "dev_mode": args.dev, "presence": presence, "driver": driver,
                "public_address": _public_address(args, args.port)}
    monitor = args.monitor or args.monitor_password is not None
    if args.app is None:
        server = Server(**settings)
        define_demo_rooms(server)
    else:
        try:
            server = load_server(args.app, settings)
        except AppError as e:
            parser.exit(1, f"{prog}: {e}\n")
    if monitor:
        server.enable_monitor(password=args.monitor_password)
    if args.playground or args.dev:
        server.enable_playground()
    try:
        server.listen(args.port, args.host, loop=args.loop)
    except PresenceError as e:
        parser.exit(1, f"{prog}: {e}\n")
    except OSError as e:
        reason = "the port is already in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
        parser.exit(1, f"{prog}: cannot listen on {args.host}:{args.port}: {reason}\n")


class AppError(Exception):
    """``module:attr`` does not name a Server."""


def load_server(spec: str, settings: dict[str, Any]) -> Server:
    """The Server that ``module:attr`` names (the module is imported from the current
    directory). A function is called with the settings its signature accepts
    (``protocol``, ``dev_mode``, ``presence``, ``driver``, ``public_address``);
    a Server built in the module keeps its own, and flags that would change them
    are an error."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise AppError(f"{spec!r}: expected module:attr (e.g. game.app:server)")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise AppError(f"cannot import {module_name!r}: {e}") from None
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise AppError(f"{module_name!r} has no attribute {attr!r}") from None
    if isinstance(target, Server):
        defaults = {"protocol": "auto", "dev_mode": False, "presence": None, "driver": None, "public_address": None}
        given = [name for name, value in settings.items() if value != defaults[name]]
        if given:
            raise AppError(f"{spec} is a Server already built: set {', '.join(given)} where it is created "
                           "(or make it a function that takes them)")
        return target
    if callable(target):
        accepted = inspect.signature(target).parameters
        server = target(**{k: v for k, v in settings.items() if k in accepted})
        if inspect.isawaitable(server):
            raise AppError(f"{spec} must return a Server, not a coroutine")
        if isinstance(server, Server):
            return server
        raise AppError(f"{spec}() returned {type(server).__name__}, not a Server")
    raise AppError(f"{spec} is a {type(target).__name__}, not a Server or a function returning one")


def _worker_argv(argv: list[str]) -> list[str]:
    # a worker's own arguments: everything but --workers and --port (set per worker)
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--workers", "--port"):
            skip = True
            continue
        if arg.startswith(("--workers=", "--port=")):
            continue
        out.append(arg)
    return out


def codegen_main(argv: Sequence[str], prog: str) -> int:
    """``pyseus codegen <module> --lang ts|cs --out DIR``: client classes of a module's Schema classes."""
    from pyseus.schema.codegen import LANGUAGES, classes_of, generate

    parser = _Parser(prog=prog, description="Write client classes (TypeScript for @colyseus/schema, C# for "
                                            "the Unity SDK) for the Schema classes of a module.")
    parser.add_argument("module", help="an importable module (e.g. pyseus.server.demo)")
    parser.add_argument("--lang", choices=LANGUAGES, required=True)
    parser.add_argument("--out", required=True, help="folder to write the files to (created if needed)")
    args = parser.parse_args(list(argv))
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(args.module)
    except ImportError as e:
        parser.exit(1, f"{prog}: cannot import {args.module!r}: {e}\n")
    classes = classes_of(module)
    if not classes:
        parser.exit(1, f"{prog}: {args.module} defines no Schema class\n")
    try:
        files = generate(classes, args.lang, origin=args.module)
    except ValueError as e:
        parser.exit(1, f"{prog}: {e}\n")
    os.makedirs(args.out, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(args.out, name), "w", encoding="utf-8") as f:
            f.write(text)
    print(f"{len(files)} files in {args.out}: {', '.join(sorted(files))}")
    return 0
