"""The standard workload's state as Schema classes (shared by bench.encode and
bench.room_server)."""
from __future__ import annotations

from typing import Any

from bench.workload import TABLE, TABLE_MASK, TWO_PI, Workload
from pyseus.schema import MapSchema, Schema, field, float32, set_fields, string, uint8, uint32


class Player(Schema):
    x: float32 = 0.0
    y: float32 = 0.0
    angle: float32 = 0.0
    hp: uint8 = 0
    name: string = ""
    score: uint32 = 0


class State(Schema):
    players: MapSchema[Player] = field(default_factory=MapSchema)
    tick: uint32 = 0


class SchemaWorkload(Workload):
    def make_state(self) -> Any:
        return State()

    def new_player(self, fields: dict[str, Any]) -> Any:
        return Player(**fields)

    def insert(self, key: str, player: Any) -> None:
        self.state.players[key] = player

    def remove(self, key: str) -> None:
        del self.state.players[key]

    def set_tick(self, t: int) -> None:
        self.state.tick = t


class BulkWorkload(SchemaWorkload):
    """The same workload written as a numpy game loop: positions live in arrays
    parallel to the list of players, and each tick computes the moved players'
    new values as columns and hands them to ``set_fields`` in one call. The
    states and patches are those of ``SchemaWorkload`` (the same arithmetic in
    the same order). Needs numpy (``pip install -e ".[bench]"``)."""

    def __init__(self, n: int, k: float) -> None:
        import numpy as np
        self.np = np
        self.objects: list[Any] = []                   # parallel to self.live and to the columns
        self.columns = np.zeros((3, max(16, 2 * n)))   # x, y, angle
        self.table = np.array(TABLE)
        super().__init__(n, k)
        m = self.m
        # The moved players are the window c .. c+m-1 (mod n) past the head: a slice of
        # a ring of positions. Their increments scale * table[(t * 7919 + 3j + row) & mask]
        # are a strided slice of one precomputed row per field.
        self.ring = np.arange(2 * n, dtype=np.int64) % n
        shift = np.arange(TABLE_MASK + 1 + 3 * m)
        self.increments = np.stack([scale * self.table[(shift + row) & TABLE_MASK]
                                    for row, scale in enumerate((4.0, 4.0, 1.0))])
        self.add = np.repeat([[1.0], [1.0], [0.1]], m, axis=1)
        self.modulo = np.repeat([[1000.0], [1000.0], [TWO_PI]], m, axis=1)
        self.new = np.empty((3, m))
        self.wraps = np.empty((3, m), dtype=bool)

    def insert(self, key: str, player: Any) -> None:
        super().insert(key, player)
        at = len(self.objects)
        if at == self.columns.shape[1]:
            self.columns = self.np.concatenate([self.columns, self.np.zeros_like(self.columns)], axis=1)
        self.columns[:, at] = (player.x, player.y, player.angle)
        self.objects.append(player)

    def compact(self) -> None:
        kept = len(self.objects) - self.head
        self.columns[:, :kept] = self.columns[:, self.head:len(self.objects)]
        self.objects = self.objects[self.head:]
        super().compact()

    def move(self, t: int) -> None:
        # new = (current + add + scale * table[b]) % modulo for the rows x, y and angle:
        # the arithmetic of Workload.move in the same order. The sum is below twice the
        # modulo, where x % modulo is exactly x - modulo (Sterbenz), and numpy's masked
        # subtraction costs less than its remainder.
        np, m, new = self.np, self.m, self.new
        c = ((t - 1) * m) % self.n
        at = self.ring[c:c + m] + self.head
        s = (t * 7919) & TABLE_MASK
        np.take(self.columns, at, axis=1, out=new)
        np.add(new, self.add, out=new)
        np.add(new, self.increments[:, s:s + 3 * m:3], out=new)
        np.greater_equal(new, self.modulo, out=self.wraps)
        np.subtract(new, self.modulo, out=new, where=self.wraps)
        self.columns[:, at] = new
        set_fields(self.objects, at, x=new[0], y=new[1], angle=new[2])
