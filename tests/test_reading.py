"""pyseus._reading: connections of the standard loop read into one shared buffer,
and what each one receives is its own, whole and in order."""
from __future__ import annotations

import asyncio
import random
import threading

import uvloop

from pyseus._reading import SharedBufferReads, pick


class Plain(asyncio.Protocol):
    def __init__(self) -> None:
        self.received = bytearray()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        assert type(data) is bytes
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.done.set_result(None)


class Buffered(Plain, SharedBufferReads):
    """Plain, reading into the thread's shared buffer."""


async def exchange(n: int) -> tuple[type, list[bytes], list[bytes]]:
    """``n`` connections to one server, written at once in random-sized pieces."""
    loop = asyncio.get_running_loop()
    cls = pick(Plain, Buffered)
    protocols: list[Plain] = []

    def accept() -> Plain:
        protocols.append(cls())
        return protocols[-1]
    server = await loop.create_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    rng = random.Random()
    sent = [rng.randbytes(rng.randrange(1, 300_000)) for _ in range(n)]
    writers = [(await asyncio.open_connection("127.0.0.1", port))[1] for _ in range(n)]
    for i in range(0, max(map(len, sent)), 4096):
        for w, data in zip(writers, sent):
            w.write(data[i:i + 4096])
        await asyncio.sleep(0)
    for w in writers:
        w.close()
    async with asyncio.timeout(20):
        while len(protocols) < n:
            await asyncio.sleep(0.01)
        await asyncio.gather(*(p.done for p in protocols))
    server.close()
    return cls, sent, [bytes(p.received) for p in protocols]


async def test_the_standard_loop_reads_into_the_shared_buffer_and_nothing_mixes() -> None:
    cls, sent, received = await exchange(8)
    assert cls is Buffered
    assert sorted(received) == sorted(sent)


def test_uvloop_reads_into_its_own_buffer() -> None:
    async def main() -> tuple[type, list[bytes], list[bytes]]:
        return await exchange(3)
    cls, sent, received = uvloop.run(main())
    assert cls is Plain
    assert sorted(received) == sorted(sent)


def test_loops_of_two_threads_do_not_share_a_buffer() -> None:
    results: list[tuple[type, list[bytes], list[bytes]]] = []

    def run() -> None:
        results.append(asyncio.run(exchange(6)))
    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 4
    for cls, sent, received in results:
        assert cls is Buffered and sorted(received) == sorted(sent)
