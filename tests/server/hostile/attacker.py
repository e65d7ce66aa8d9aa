"""A hostile client in a process of its own, so that its CPU is not the server's.

    python -m tests.server.hostile.attacker flood PORT ROOM_ID SECONDS [SIZE [TYPE]]
    python -m tests.server.hostile.attacker rejoin-flood PORT ROOM_ID SECONDS
    python -m tests.server.hostile.attacker creates PORT NAME COUNT

``flood`` joins the room and sends ROOM_DATA frames as fast as the socket takes
them until it is closed; ``rejoin-flood`` does that again and again until
SECONDS have passed; ``creates`` sends COUNT ``create`` requests, 50 at a time.
Each request claims to come from 10.6.6.6 (the server under test trusts
127.0.0.1 as a proxy). The result is one JSON line on stdout.
"""
from __future__ import annotations

import asyncio
import collections
import json
import sys
import time
from typing import Any

import aiohttp

from pyseus import protocol

HEADERS = {"X-Forwarded-For": "10.6.6.6"}


async def _seat(http: aiohttp.ClientSession, base: str, method: str, target: str) -> tuple[int, Any]:
    async with http.post(f"{base}/matchmake/{method}/{target}", data=b"{}", headers=HEADERS) as resp:
        return resp.status, await resp.json(content_type=None)


async def _flood_once(http: aiohttp.ClientSession, base: str, room_id: str, size: int,
                      until: float, type: str = "spam") -> dict[str, Any]:
    status, seat = await _seat(http, base, "joinById", room_id)
    if status != 200 or "sessionId" not in seat:
        return {"refused": status}
    url = f"{base.replace('http', 'ws')}/{seat['room']['processId']}/{room_id}?sessionId={seat['sessionId']}"
    try:
        ws = await http.ws_connect(url, headers=HEADERS, max_msg_size=0)
    except aiohttp.WSServerHandshakeError as e:
        return {"refused": e.status}
    await ws.send_bytes(protocol.join_ack())
    frame = protocol.room_data(type, "x" * size)
    sent = 0
    started = time.monotonic()

    async def read_until_closed() -> int | None:
        async for _ in ws:          # (patches and messages, ignored)
            pass
        return ws.close_code
    reader = asyncio.ensure_future(read_until_closed())
    while not reader.done() and time.monotonic() < until:
        try:
            await ws.send_bytes(frame)
        except (ConnectionError, RuntimeError):
            break
        sent += 1
        if sent % 50 == 0:
            await asyncio.sleep(0)
    cut_after = time.monotonic() - started
    try:
        code = await asyncio.wait_for(reader, 10)
    except asyncio.TimeoutError:
        code = None
    await ws.close()
    return {"sent": sent, "code": code, "cut_after": cut_after}


async def flood(port: int, room_id: str, seconds: float, size: int = 16, type: str = "spam") -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        return await _flood_once(http, base, room_id, size, time.monotonic() + seconds, type)


async def rejoin_flood(port: int, room_id: str, seconds: float) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    until = time.monotonic() + seconds
    rounds: list[dict[str, Any]] = []
    refused = collections.Counter()
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < until:
            result = await _flood_once(http, base, room_id, 16, until)
            if "refused" in result:
                refused[result["refused"]] += 1
                await asyncio.sleep(0.01)
            else:
                rounds.append(result)
    return {"rounds": len(rounds), "codes": sorted({r["code"] for r in rounds}, key=str),
            "sent": sum(r["sent"] for r in rounds), "refused": dict(refused)}


async def creates(port: int, name: str, count: int) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    statuses: collections.Counter[int] = collections.Counter()
    limit = asyncio.Semaphore(50)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as http:
        async def one() -> None:
            async with limit:
                try:
                    status, _ = await _seat(http, base, "create", name)
                except aiohttp.ClientError:
                    status = -1
                statuses[status] += 1
        await asyncio.gather(*(one() for _ in range(count)))
    return {"statuses": {str(k): v for k, v in statuses.items()}}


def main(argv: list[str]) -> None:
    mode, port = argv[0], int(argv[1])
    if mode == "flood":
        result = asyncio.run(flood(port, argv[2], float(argv[3]), int(argv[4]) if len(argv) > 4 else 16,
                                   argv[5] if len(argv) > 5 else "spam"))
    elif mode == "rejoin-flood":
        result = asyncio.run(rejoin_flood(port, argv[2], float(argv[3])))
    elif mode == "creates":
        result = asyncio.run(creates(port, argv[2], int(argv[3])))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
