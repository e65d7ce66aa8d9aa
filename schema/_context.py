"""Type ids: the numbering of Schema classes shared by encoder and decoder.

The reference numbers classes by a depth-first discovery from the root class:
the class itself, then its subclasses (in definition order), then its
ancestors, then the classes its fields refer to (own fields first, then
inherited ones). The reference skips subclasses that declare no field of their
own (and cannot send them); they are numbered here like the others. Clients that bring their own generated classes
compute the same numbers, so TYPE_ID bytes must follow this order exactly.
"""
from __future__ import annotations

from typing import Any

from ._declaration import Schema, subclasses_of

__all__ = ["type_ids"]


def type_ids(root: type) -> dict[type, int]:
    """Class -> type id for every class reachable from ``root`` (root is 0)."""
    ids: dict[type, int] = {}

    def discover(cls: Any) -> None:
        if cls in ids:
            return
        ids[cls] = len(ids)
        for sub in subclasses_of(cls):
            discover(sub)
        for base in cls.__mro__[1:]:
            if base is Schema:
                break
            if issubclass(base, Schema):
                discover(base)
        info = cls.__schema_info__
        info.resolve()
        own = [f for f in info.fields if f.owner is cls]
        inherited = [f for f in info.fields if f.owner is not cls]
        for f in own + inherited:
            t = f.type
            if t.is_ref:
                discover(t.cls)
            elif t.is_collection and t.child.is_ref:
                discover(t.child.cls)

    discover(root)
    return ids
