"""One server process of the multi-process tests: rooms of three seats, on a shared Redis.

    python tests/server/cluster/app.py --port P --redis URL [--process-id ID]
"""
from __future__ import annotations

import argparse
import logging
from typing import Any

from pyseus.server import Client, LobbyRoom, Room, Server
from pyseus.server.redis import RedisDriver, RedisPresence


class Trio(Room[Any]):
    """Three seats; answers "where" with the process hosting it."""
    max_clients = 3

    def on_create(self, options: dict[str, Any]) -> None:
        self.set_metadata({"mode": options.get("mode", "")})
        self.on_message("where", self.where)
        self.on_message("echo", lambda client, message: client.send("echo", message))

    def where(self, client: Client, _: Any) -> None:
        client.send("here", {"processId": PROCESS_ID, "roomId": self.room_id, "clients": len(self.clients)})

    async def on_leave(self, client: Client, consented: bool) -> None:
        if not consented:
            await self.allow_reconnection(client, 20)


PROCESS_ID = ""


def main() -> None:
    global PROCESS_ID
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--process-id", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = Server(presence=RedisPresence(args.redis), driver=RedisDriver(args.redis),
                    public_address=f"127.0.0.1:{args.port}", process_id=args.process_id)
    PROCESS_ID = server.process_id
    server.define("trio", Trio).filter_by(["mode"]).enable_realtime_listing()
    server.define("lobby", LobbyRoom)
    server.listen(args.port, "127.0.0.1")


if __name__ == "__main__":
    main()
