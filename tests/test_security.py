"""SECURITY.md describes every limit with the default the code has."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from pyseus.server import Limits

DOC = (Path(__file__).resolve().parent.parent / "SECURITY.md").read_text()


def _render(name: str, value: object) -> str:
    # how the table writes a default
    if name == "rate_limit_exempt":
        assert value == ("127.0.0.0/8", "::1")
        return "loopback exempt"
    if value is None:
        return "same as `max_rooms`"
    if name.endswith("timeout"):
        return f"{value:g} s"
    assert isinstance(value, (int, float))
    if "byte" in name and value >= 1024:
        for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
            if value % size == 0:
                return f"{int(value) // size} {unit}"
    return f"{value:g}"


def test_every_limit_is_in_the_table_with_its_default() -> None:
    rows = [line for line in DOC.splitlines() if line.startswith("| ") and not line.startswith("| Limit")]
    defaults = Limits()
    for f in dataclasses.fields(Limits):
        matching = [row for row in rows if f"`{f.name}`" in row.split("|")[-2]]     # (the "how" column)
        assert len(matching) == 1, f"SECURITY.md has {len(matching)} rows for Limits.{f.name}"
        default_cell = matching[0].split("|")[2]
        assert _render(f.name, getattr(defaults, f.name)) in default_cell, (f.name, default_cell)
