"""The standard benchmark workload (shared/bench/WORKLOAD.md, v1).

A state of N players in a map; each tick moves K% of them (x, y, angle), sets
the tick counter, and every 10th tick removes the oldest player and adds a new
one. Inputs come from a fixed table of pseudo-random numbers, so every
implementation (this one, bench/node/workload.mjs) produces the same states;
``digest()`` and the test vectors below check that.

The mutations go through hooks, so the same driver runs the schema state and
the plain ``__slots__`` baseline.
"""
from __future__ import annotations

import hashlib
import math
import struct
from abc import ABC, abstractmethod
from typing import Any, Iterator

TWO_PI = 2 * math.pi
TABLE_MASK = 4095

# (N, K, ticks) -> digest, from WORKLOAD.md
TEST_VECTORS = {
    (100, 10, 25): "cc20343c77106f73c3bfb1f4b7a51e82eccd767d7c040eec7d10ead51d250e38",
    (1000, 1, 137): "da5be9423c848a379772d1fb24ce3b8d7f826a74b84845445bbee8a60f22fa9b",
    (1000, 100, 20): "8c6a341958370ba99808905765c07a2727526670eba05210515c4a0aa9aad320",
}


def _table() -> list[float]:
    # mulberry32 seeded with 12345: 4096 uint32 outputs scaled to [0, 1)
    out, a = [], 12345
    for _ in range(TABLE_MASK + 1):
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = ((a ^ (a >> 15)) * (a | 1)) & 0xFFFFFFFF
        t = (((t + (((t ^ (t >> 7)) * (t | 61)) & 0xFFFFFFFF)) & 0xFFFFFFFF) ^ t)
        out.append(((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296)
    return out


TABLE = _table()


def player_fields(serial: int) -> dict[str, Any]:
    b = 5 * serial
    return {
        "x": TABLE[b & TABLE_MASK] * 1000,
        "y": TABLE[(b + 1) & TABLE_MASK] * 1000,
        "angle": TABLE[(b + 2) & TABLE_MASK] * TWO_PI,
        "hp": 1 + serial % 100,
        "name": "Player" + str(serial).zfill(2 + serial % 5),
        "score": (serial * 37) % 100000,
    }


def changed_per_tick(n: int, k: float) -> int:
    return max(1, int(math.floor(n * k / 100 + 0.5)))


class Workload(ABC):
    """Drives a state through the workload; subclasses provide the state hooks."""

    def __init__(self, n: int, k: float) -> None:
        self.n, self.k, self.m = n, k, changed_per_tick(n, k)
        self.t = 0
        self.next_serial = 0
        self.live: list[tuple[str, Any]] = []
        self.head = 0
        self.state = self.make_state()
        for _ in range(n):
            self._add()
        self.set_tick(0)

    # hooks -------------------------------------------------------------------
    @abstractmethod
    def make_state(self) -> Any:
        """A new, empty state."""

    @abstractmethod
    def new_player(self, fields: dict[str, Any]) -> Any:
        """A player object with the given fields."""

    @abstractmethod
    def insert(self, key: str, player: Any) -> None:
        """Add a player to the state."""

    @abstractmethod
    def remove(self, key: str) -> None:
        """Remove a player from the state."""

    @abstractmethod
    def set_tick(self, t: int) -> None:
        """Set the state's tick counter."""

    # driver --------------------------------------------------------------------
    def _add(self) -> None:
        serial = self.next_serial
        self.next_serial += 1
        key = "p%08d" % serial
        player = self.new_player(player_fields(serial))
        self.insert(key, player)
        self.live.append((key, player))

    def step(self) -> None:
        self.t += 1
        t = self.t
        if t % 10 == 0:
            key, _ = self.live[self.head]
            self.head += 1
            if self.head > 4096 and self.head * 2 > len(self.live):
                self.compact()
            self.remove(key)
            self._add()
        self.move(t)
        self.set_tick(t)

    def compact(self) -> None:
        """Drop the players gone before the head from ``live``."""
        self.live = self.live[self.head:]
        self.head = 0

    def move(self, t: int) -> None:
        """Move tick t's K % of the players."""
        n, m, table, live, head = self.n, self.m, TABLE, self.live, self.head
        c = ((t - 1) * m) % n
        for j in range(m):
            b = t * 7919 + j * 3
            p = live[head + (c + j) % n][1]
            p.x = (p.x + 1 + 4 * table[b & TABLE_MASK]) % 1000
            p.y = (p.y + 1 + 4 * table[(b + 1) & TABLE_MASK]) % 1000
            p.angle = (p.angle + 0.1 + table[(b + 2) & TABLE_MASK]) % TWO_PI

    def players(self) -> Iterator[tuple[str, Any]]:
        for i in range(self.head, len(self.live)):
            yield self.live[i]

    def digest(self) -> str:
        h = hashlib.sha256(b"tick=%d\n" % self.t)
        hexf = lambda v: struct.pack(">d", v).hex()   # noqa: E731
        for key, p in self.players():
            h.update(f"{key}|{p.name}|{p.hp}|{p.score}|{hexf(p.x)}|{hexf(p.y)}|{hexf(p.angle)}\n".encode())
        return h.hexdigest()


class SlotsPlayer:
    """The plain-Python limit: the same fields in __slots__, no tracking."""

    __slots__ = ("x", "y", "angle", "hp", "name", "score")

    def __init__(self, x: float, y: float, angle: float, hp: int, name: str, score: int) -> None:
        self.x, self.y, self.angle, self.hp, self.name, self.score = x, y, angle, hp, name, score


class SlotsWorkload(Workload):
    def make_state(self) -> Any:
        return {"players": {}, "tick": 0}

    def new_player(self, fields: dict[str, Any]) -> Any:
        return SlotsPlayer(**fields)

    def insert(self, key: str, player: Any) -> None:
        self.state["players"][key] = player

    def remove(self, key: str) -> None:
        del self.state["players"][key]

    def set_tick(self, t: int) -> None:
        self.state["tick"] = t


def check_test_vectors() -> None:
    for (n, k, ticks), want in TEST_VECTORS.items():
        w = SlotsWorkload(n, k)
        for _ in range(ticks):
            w.step()
        got = w.digest()
        if got != want:
            raise AssertionError(f"workload N={n} K={k}: digest {got} != {want}")


if __name__ == "__main__":
    check_test_vectors()
    print("workload test vectors: ok")
