"""This process among the others that share its presence (one Redis, say).

Processes find each other and each other's rooms through presence, with the
keys, channels and payloads of Colyseus 0.16 (so Node processes can be among
them):

* ``roomcount``: ``processId -> "<rooms>,<clients>"``; a room is created by the
  process with the fewest rooms;
* ``colyseus:nodes``: ``"<processId>/<address>"`` per process;
* requests between processes: publish ``[method, requestId, args]`` on
  ``p:<processId>`` (the process: ``None`` creates a room, ``"healthcheck"``)
  or ``$<roomId>`` (a room: ``_reserveSeat``, ``checkReconnectionToken``), and
  the answer comes on ``ipc:<requestId>`` as ``[0, result]`` or ``[1, error]``.

A process that does not answer within ``IPC_TIMEOUT`` is taken for dead: its
room count, listings and node entry are removed, and matchmaking goes on
without it. With the in-memory presence every room is local and none of this
is ever used.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pyseus.protocol import ErrorCode, RoomListing, new_id

from .driver import Driver
from .errors import ServerError
from .presence import Presence

__all__ = ["Cluster", "IPC_TIMEOUT", "ROOMCOUNT", "NODES", "RemoteTimeout"]

log = logging.getLogger("pyseus.server.cluster")

IPC_TIMEOUT = 2.0                # (Node's COLYSEUS_PRESENCE_SHORT_TIMEOUT)
ROOMCOUNT = "roomcount"
NODES = "colyseus:nodes"
_HEARTBEAT = 1.0                 # how often the room count is written (when it changed), and presence checked

Handler = Callable[[Any, list[Any]], Awaitable[Any]]


class RemoteTimeout(ServerError):
    """Another process did not answer a request in time."""

    def __init__(self, process_id: str | None, what: str) -> None:
        super().__init__(ErrorCode.MATCHMAKE_UNHANDLED, f"{what}: no answer within {IPC_TIMEOUT} s")
        self.process_id = process_id


class Cluster:
    """Registration, requests between processes, and the health of the others."""

    def __init__(self, presence: Presence, driver: Driver, process_id: str) -> None:
        self.presence = presence
        self.driver = driver
        self.process_id = process_id
        self.address = ""
        self._serving: dict[str, Callable[[Any], Awaitable[None]]] = {}
        self._count = (0, 0)
        self._written: tuple[int, int] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Task[None]] = set()
        self._lost = False
        self.on_reconnected: Callable[[], Awaitable[None]] | None = None

    # ---- this process ---------------------------------------------------------

    @property
    def node(self) -> str:
        return f"{self.process_id}/{self.address}"

    async def start(self, address: str, handler: Handler) -> None:
        """Announce this process (answering ``p:<processId>`` with ``handler``) and
        forget the processes that died without saying so."""
        self.address = address
        await self.serve(f"p:{self.process_id}", handler)
        await self._register()
        await self.check_others()
        self._heartbeat = asyncio.ensure_future(self._beat())

    async def stop(self) -> None:
        """Leave: no room count, no node entry, no listings of this process."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        await asyncio.gather(*self._writes, return_exceptions=True)
        for channel in list(self._serving):
            await self.unserve(channel)
        try:
            await self.presence.hdel(ROOMCOUNT, self.process_id)
            await self.presence.srem(NODES, self.node)
            await self.driver.cleanup(self.process_id)
        except Exception as e:
            log.warning("leaving the cluster: %s", e)

    async def _register(self) -> None:
        await self.presence.sadd(NODES, self.node)
        await self._write_count(force=True)

    def count(self, rooms: int, clients: int) -> None:
        """This process's rooms and clients changed: a new number of rooms is written
        at once (the next create depends on it), clients within a second."""
        self._count = (rooms, clients)
        if self.address and (self._written is None or self._written[0] != rooms) and not self._lost:
            task = asyncio.ensure_future(self._write_count())
            self._writes.add(task)
            task.add_done_callback(self._written_now)

    def _written_now(self, task: asyncio.Task[None]) -> None:
        self._writes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._lost = True           # (the heartbeat registers again once the presence is back)

    async def _write_count(self, force: bool = False) -> None:
        if force or self._count != self._written:
            count = self._count
            await self.presence.hset(ROOMCOUNT, self.process_id, f"{count[0]},{count[1]}")
            self._written = count

    async def _beat(self) -> None:
        # The room count, and re-registering once the presence is back after a failure.
        while True:
            await asyncio.sleep(_HEARTBEAT)
            try:
                # (a presence that restarted empty lost this process: register it again)
                if self._lost or not await self.presence.sismember(NODES, self.node):
                    await self._register()
                    if self.on_reconnected is not None:
                        await self.on_reconnected()
                    log.warning("presence is back: process %s registered again", self.process_id)
                    self._lost = False
                else:
                    await self._write_count()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if not self._lost:
                    log.error("presence unreachable (%s): rooms go on, matchmaking fails until it is back", e)
                self._lost = True

    # ---- the others -------------------------------------------------------------

    async def least_busy(self) -> str:
        """The process with the fewest rooms (this one on a tie)."""
        counts = await self.presence.hgetall(ROOMCOUNT)
        if self.address and self.process_id in counts:
            # ours as it is now, not as last written (a create may have just added one)
            counts[self.process_id] = f"{self._count[0]},{self._count[1]}"
        best, fewest = self.process_id, None
        for process_id, value in counts.items():
            try:
                rooms = int(str(value).split(",")[0])
            except ValueError:
                continue
            if fewest is None or rooms < fewest or (rooms == fewest and process_id == self.process_id):
                best, fewest = process_id, rooms
        return best

    async def check_others(self) -> None:
        """Ask every process with a room count but no request channel whether it lives."""
        counts = await self.presence.hgetall(ROOMCOUNT)
        listening = set(await self.presence.channels("p:*"))
        silent = [p for p in counts if p != self.process_id and f"p:{p}" not in listening]
        await asyncio.gather(*(self.check(p) for p in silent))

    async def check(self, process_id: str) -> bool:
        """Whether ``process_id`` answers; one that does not is removed."""
        try:
            await self.request(f"p:{process_id}", "healthcheck", [], process_id)
            return True
        except RemoteTimeout:
            await self.remove(process_id)
            return False
        except ServerError:
            return True         # (it answered, with an error)

    async def remove(self, process_id: str) -> None:
        """Forget a dead process: its room count, node entries and listings."""
        log.warning("process %s does not answer: removing its rooms from matchmaking", process_id)
        await self.presence.hdel(ROOMCOUNT, process_id)
        for node in await self.presence.smembers(NODES):
            if str(node).split("/", 1)[0] == process_id:
                await self.presence.srem(NODES, node)
        await self.driver.cleanup(process_id)

    # ---- requests -----------------------------------------------------------------

    async def request(self, channel: str, method: Any, args: list[Any], process_id: str | None = None) -> Any:
        """Send a request on ``channel`` and return the answer; raises ServerError
        (the remote one's code and message) or RemoteTimeout."""
        request_id = new_id()
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()

        def on_answer(data: Any) -> None:
            if not answer.done():
                answer.set_result(data)

        reply = f"ipc:{request_id}"
        await self.presence.subscribe(reply, on_answer)
        try:
            await self.presence.publish(channel, [method, request_id, args])
            data = await asyncio.wait_for(answer, IPC_TIMEOUT)
        except asyncio.TimeoutError:
            raise RemoteTimeout(process_id, f"{channel} {method}") from None
        finally:
            await self.presence.unsubscribe(reply, on_answer)
        if not isinstance(data, list) or len(data) != 2 or data[0] not in (0, 1):
            raise ServerError(ErrorCode.MATCHMAKE_UNHANDLED, f"{channel}: malformed answer")
        if data[0] == 0:
            return data[1]
        raise _remote_error(data[1])

    async def serve(self, channel: str, handler: Handler) -> None:
        """Answer the requests published on ``channel`` with ``handler(method, args)``."""
        presence = self.presence

        async def on_request(message: Any) -> None:
            if not (isinstance(message, list) and len(message) == 3 and isinstance(message[1], str)):
                log.warning("%s: a request that is not [method, requestId, args]; ignored", channel)
                return
            method, request_id, args = message
            try:
                result = await handler(method, args if isinstance(args, list) else [])
                answer: list[Any] = [0, result]
            except ServerError as e:
                answer = [1, json.dumps({"code": e.code, "message": e.message})]
            except Exception:
                log.exception("%s: request %r failed", channel, method)
                answer = [1, "internal error"]
            await presence.publish(f"ipc:{request_id}", answer)

        self._serving[channel] = on_request
        await presence.subscribe(channel, on_request)

    async def unserve(self, channel: str) -> None:
        callback = self._serving.pop(channel, None)
        if callback is not None:
            try:
                await self.presence.unsubscribe(channel, callback)
            except Exception as e:
                log.warning("unsubscribing %s: %s", channel, e)

    # ---- rooms elsewhere --------------------------------------------------------------

    async def create_remote(self, process_id: str, name: str, options: dict[str, Any]) -> RoomListing:
        data = await self.request(f"p:{process_id}", None, [name, options], process_id)
        return RoomListing.from_json(data)

    async def reserve_remote(self, listing: RoomListing, session_id: str, options: dict[str, Any]) -> bool:
        # (no auth data: a Node room would take it for the result of onAuth; the
        # client sends its token again on the WebSocket)
        return bool(await self.request(f"${listing.room_id}", "_reserveSeat", [session_id, options, None],
                                       listing.process_id))

    async def reconnect_remote(self, listing: RoomListing, token: str) -> str | None:
        found = await self.request(f"${listing.room_id}", "checkReconnectionToken", [token], listing.process_id)
        return found if isinstance(found, str) and found else None


def _remote_error(error: Any) -> ServerError:
    # Node answers a thrown error with a code as a JSON string, others as the message alone
    if isinstance(error, str):
        try:
            data = json.loads(error)
        except ValueError:
            data = None
        if isinstance(data, dict) and "code" in data:
            return ServerError(int(data.get("code") or ErrorCode.MATCHMAKE_UNHANDLED), str(data.get("message", "")))
        return ServerError(ErrorCode.MATCHMAKE_UNHANDLED, error)
    return ServerError(ErrorCode.MATCHMAKE_UNHANDLED, str(error))
