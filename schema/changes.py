"""``Change``: one operation a ``Decoder`` applied, as its listeners see it."""
from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["Change"]


class Change(NamedTuple):
    """One applied operation: ``key`` is the field name (Schema) or the map key /
    array index / set index (collections); ``op`` is an ``Operation`` value."""
    ref: Any
    ref_id: int
    op: int
    key: Any
    value: Any
    previous_value: Any
