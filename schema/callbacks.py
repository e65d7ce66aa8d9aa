"""Change listeners on a decoded state.

Reached as ``decoder.callbacks`` (or ``room.callbacks`` in the client)::

    cb = decoder.callbacks
    cb.on_add(state, "players", lambda player, key: ...)     # items of state.players
    cb.on_remove(state, "players", lambda player, key: ...)
    cb.listen(player, "x", lambda value, previous: ...)      # one field
    cb.on_change(player, lambda: ...)                        # any field, once per patch
    cb.on_change(state.players, lambda item, key: ...)       # any item of a collection

Collection listeners are bound to the owner's field, so they keep working when
the server replaces the collection. ``on_add`` and ``listen`` call back at once
for what is already there unless ``immediate=False``. Each method returns a
function that removes the listener. Listeners run after a whole message has been
applied, in the order of the changes; an exception in one is logged and does
not stop the others.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Protocol

from pyseus._callbacks import fire, logging_tasks, remover

from ._collections import ArraySchema, MapSchema
from ._tracking import Ref
from ._schema_core import SchemaCore
from ._spec import Operation
from .changes import Change

__all__ = ["Callbacks", "DecodedRefs"]

log = logging.getLogger("pyseus.schema.callbacks")

_DELETE, _ADD = Operation.DELETE.value, Operation.ADD.value


class DecodedRefs(Protocol):
    """What the listeners need from the decoder that feeds them."""

    @property
    def parents(self) -> dict[int, tuple[int, str]]:
        """Collection refId -> (owner refId, field name)."""

    def ref_id(self, obj: Any) -> int | None:
        """The refId of a decoded structure (None if it is not part of the state)."""


def _entries(collection: Any) -> list[tuple[Any, Any]]:
    if isinstance(collection, MapSchema):
        return list(collection.items())
    if isinstance(collection, ArraySchema):
        return list(enumerate(collection))
    return list(collection._raw_items())


# a failing listener is logged and the others still run; a coroutine listener
# runs as a task (when there is an event loop)
_tasks = logging_tasks(log, "state listener")


def _call(fn: Callable[..., Any], *args: Any) -> None:
    fire(fn, args, _tasks, lambda: f"{fn!r}")


class Callbacks:
    """Listeners for one Decoder (see the module documentation)."""

    def __init__(self, decoder: DecodedRefs) -> None:
        self._decoder = decoder
        # (owner refId, field) -> kind -> fns
        self._fields: dict[tuple[int, str], dict[str, list[Callable[..., Any]]]] = {}
        self._listen: dict[int, dict[str, list[Callable[..., Any]]]] = {}                # Schema refId -> field -> fns
        self._changed: dict[int, list[Callable[..., Any]]] = {}                          # refId -> on_change fns

    def _refid(self, instance: Any) -> int:
        rid = self._decoder.ref_id(instance)
        if rid is None:
            raise ValueError(f"{type(instance).__name__} instance is not part of the decoded state")
        return rid

    def _field_table(self, owner: Any, field: str, kind: str) -> list[Callable[..., Any]]:
        if not isinstance(owner, SchemaCore):
            raise TypeError(f"{kind}: the owner must be a Schema instance, got {type(owner).__name__}")
        info = type(owner).__schema_info__
        f = info.by_name.get(field)
        if f is None or not f.type.is_collection:
            raise ValueError(f"{type(owner).__name__}.{field} is not a collection field")
        per_field = self._fields.setdefault((self._refid(owner), field), {"add": [], "remove": []})
        return per_field[kind]

    def on_add(self, owner: Any, field: str, callback: Callable[[Any, Any], Any],
               immediate: bool = True) -> Callable[[], None]:
        """Call ``callback(item, key)`` for each item added to ``owner.<field>``."""
        table = self._field_table(owner, field, "add")
        table.append(callback)
        current = getattr(owner, field)
        if immediate and current is not None:
            for key, item in _entries(current):
                _call(callback, item, key)
        return remover(table, callback)

    def on_remove(self, owner: Any, field: str, callback: Callable[[Any, Any], Any]) -> Callable[[], None]:
        """Call ``callback(item, key)`` for each item removed from ``owner.<field>``."""
        table = self._field_table(owner, field, "remove")
        table.append(callback)
        return remover(table, callback)

    def listen(self, instance: Any, field: str, callback: Callable[[Any, Any], Any],
               immediate: bool = True) -> Callable[[], None]:
        """Call ``callback(value, previous_value)`` when ``instance.<field>`` changes."""
        if not isinstance(instance, SchemaCore):
            raise TypeError(f"listen() needs a Schema instance, got {type(instance).__name__}")
        if field not in type(instance).__schema_info__.by_name:
            raise ValueError(f"{type(instance).__name__} has no field {field!r}")
        table = self._listen.setdefault(self._refid(instance), {}).setdefault(field, [])
        table.append(callback)
        current = getattr(instance, field)
        if immediate and current is not None:
            _call(callback, current, None)
        return remover(table, callback)

    def on_change(self, instance: Any, callback: Callable[..., Any]) -> Callable[[], None]:
        """Schema: ``callback()`` once per message that changes any of its fields.
        Collection: ``callback(item, key)`` for every added, replaced or removed item."""
        if not isinstance(instance, Ref):
            raise TypeError(f"on_change() needs a Schema or collection, got {type(instance).__name__}")
        table = self._changed.setdefault(self._refid(instance), [])
        table.append(callback)
        return remover(table, callback)

    # ---- called by the decoder ------------------------------------------------

    def _forget(self, refid: int) -> None:
        self._listen.pop(refid, None)
        self._changed.pop(refid, None)
        for key in [k for k in self._fields if k[0] == refid]:
            del self._fields[key]

    def _trigger(self, changes: list[Change]) -> None:
        if not (self._fields or self._listen or self._changed):
            return
        notified: set[int] = set()
        parents = self._decoder.parents
        for ch in changes:
            if isinstance(ch.ref, SchemaCore):
                if ch.ref_id not in notified:
                    notified.add(ch.ref_id)
                    for fn in list(self._changed.get(ch.ref_id, ())):
                        _call(fn)
                for fn in list(self._listen.get(ch.ref_id, {}).get(ch.key, ())):
                    _call(fn, ch.value, ch.previous_value)
                # a collection field replaced or deleted: its items are gone
                bound = self._fields.get((ch.ref_id, ch.key))
                prev = ch.previous_value
                if bound and isinstance(prev, Ref) and prev is not ch.value:
                    for key, item in _entries(prev):
                        for fn in list(bound["remove"]):
                            _call(fn, item, key)
                continue
            owner = parents.get(ch.ref_id)
            bound = self._fields.get(owner) if owner is not None else None
            if bound:
                if ch.op & _DELETE:
                    if ch.previous_value is not None:
                        for fn in list(bound["remove"]):
                            _call(fn, ch.previous_value, ch.key)
                    if ch.op & _ADD:
                        for fn in list(bound["add"]):
                            _call(fn, ch.value, ch.key)
                elif ch.op & _ADD and ch.previous_value is not ch.value:
                    for fn in list(bound["add"]):
                        _call(fn, ch.value, ch.key)
            if ch.value is not ch.previous_value:
                for fn in list(self._changed.get(ch.ref_id, ())):
                    _call(fn, ch.value, ch.key)
