"""Per-client views of a state: ``StateView``, and the writer of view parts.

A field declared with ``field(view=True)`` (tag -1) or ``field(view=<tag>)`` is
a *view field*: it, and every structure below it, is left out of the shared
patches. A client sees that part of the state through its ``StateView``:

* ``view.add(obj, tag=None)`` shows ``obj`` (a Schema instance or a collection)
  and everything it holds, but view fields, except those of ``obj``'s class
  (and of what it holds) declared with ``tag`` (``None``: the tag of
  ``view=True``). A structure can be added before it is in the state: it
  shows once it is.
* The way to an added structure is shown too: the slots that lead to it from
  the shared state, and nothing else of the structures on the way (an item of
  a hidden collection shows alone, its neighbours stay hidden).
* ``view.remove(obj, tag=None)`` takes back what ``add`` gave (one tag, or all).

On the wire a view part is ordinary blocks after the shared patch: what became
visible is added (its slot in the parent, then its content), what changed in
what the view shows is updated, and what stopped being visible is deleted from
its parent. Items of hidden arrays are added and deleted by refId, so a client
holds them in the order in which they became visible, as Colyseus does.

The writer keeps, for each view, what the clients using it hold (a *mirror*),
and each patch sends the difference between that and what the view shows now.
It only recomputes a view when something the view shows, or the view itself,
changed since the last patch, and then only what the view shows: the cost is
that of the visible part, not of the state. Tags never travel on the wire.
"""
from __future__ import annotations

from collections import deque
from typing import Any

from ._buffer import pack_primitive
from ._collections import ArraySchema, MapSchema
from ._declaration import DEFAULT_VIEW_TAG
from ._schema_core import SchemaCore
from ._spec import Marker, Operation, TypeCode
from ._tracking import Ref

__all__ = ["StateView", "ViewWriter", "DEFAULT_VIEW_TAG"]

_NUMBER, _STRING, _REF, _LAST_PRIMITIVE = (TypeCode.NUMBER.value, TypeCode.STRING.value, TypeCode.REF.value,
                                           TypeCode.BIGUINT64.value)
_ADD, _DELETE, _DELETE_AND_ADD = Operation.ADD.value, Operation.DELETE.value, Operation.DELETE_AND_ADD.value
_ADD_BY_REFID, _DELETE_BY_REFID, _CLEAR = (Operation.ADD_BY_REFID.value, Operation.DELETE_BY_REFID.value,
                                           Operation.CLEAR.value)
_SWITCH, _TYPE_ID = bytes((Marker.SWITCH_TO_STRUCTURE.value,)), bytes((Marker.TYPE_ID.value,))
_ABSENT: Any = object()
_UNKNOWN: Any = object()        # (a field a client may hold, from the shared patches)

# kinds of nodes
_SCHEMA, _MAP, _ARRAY, _INDEXED = range(4)
# what clients may hold of a structure beyond what the mirror says (see _ops)
_SHARED_PART, _ALL = 1, 2


class StateView:
    """What one client (or several alike) sees of the view fields of a state.

    ``add(obj, tag=None)``, ``remove(obj, tag=None)``, ``has(obj, tag=None)``,
    ``clear()``; see the module's documentation for what they show. On the
    server, ``client.view = StateView()``; clients may share one view.
    """

    def __init__(self) -> None:
        self._explicit: dict[int, tuple[Ref, set[int]]] = {}
        self._changed: set[int] = set()            # keys of _explicit added, changed or removed since
        self._mirror: _Mirror | None = None

    def add(self, obj: Any, tag: int | None = None) -> None:
        """Show ``obj`` (with the view fields of ``tag``) and the way to it."""
        if not isinstance(obj, Ref):
            raise TypeError(f"StateView.add() takes a Schema instance or a collection, not {type(obj).__name__}")
        tag = DEFAULT_VIEW_TAG if tag is None else _tag(tag)
        if self._explicit.get(id(obj), (None,))[0] is not obj:
            self._explicit[id(obj)] = (obj, set())
        self._explicit[id(obj)][1].add(tag)
        self._changed.add(id(obj))

    def remove(self, obj: Any, tag: int | None = None) -> None:
        """Stop showing ``obj`` (``tag`` None: at all; else only that tag's fields)."""
        entry = self._explicit.get(id(obj))
        if entry is None or entry[0] is not obj:
            return
        if tag is None:
            del self._explicit[id(obj)]
        else:
            entry[1].discard(_tag(tag))
            if not entry[1]:
                del self._explicit[id(obj)]
        self._changed.add(id(obj))

    def has(self, obj: Any, tag: int | None = None) -> bool:
        """Whether ``obj`` was added (with ``tag``, when given) and not removed."""
        entry = self._explicit.get(id(obj))
        if entry is None or entry[0] is not obj:
            return False
        return tag is None or _tag(tag) in entry[1]

    def clear(self) -> None:
        """Remove everything."""
        self._changed.update(self._explicit)
        self._explicit.clear()

    def __len__(self) -> int:
        return len(self._explicit)

    def __repr__(self) -> str:
        return f"<StateView of {len(self._explicit)} structures>"


def _tag(tag: Any) -> int:
    if isinstance(tag, bool) or not isinstance(tag, int):
        raise TypeError(f"a view tag is an int, not {type(tag).__name__}")
    return tag


class _Node:
    """What a client holds of one structure, as far as views are concerned.

    Schema: ``{field index: value}`` (for a shared instance only its view fields);
    map: ``{key: value}`` and the client's index of each key; array and
    set/collection: the items (for sets and collections, by the client's index).
    """

    __slots__ = ("ref", "kind", "content", "shared", "indexes", "next_index")

    def __init__(self, ref: Any, kind: int, content: Any, shared: bool = False) -> None:
        self.ref = ref
        self.kind = kind
        self.content = content
        self.shared = shared            # only its view fields are here (the shared patches carry the rest)
        self.indexes: dict[Any, int] = {}
        self.next_index = 0

    def copy(self) -> _Node:
        # (to be written again: a set's or collection's items as a list, in order)
        content = [v for _, v in sorted(self.content.items())] if self.kind == _INDEXED else self.content.copy()
        n = _Node(self.ref, self.kind, content, self.shared)
        n.indexes, n.next_index = dict(self.indexes), self.next_index
        return n

    def refs(self) -> list[Any]:
        values = self.content.values() if isinstance(self.content, dict) else self.content
        return [v for v in values if isinstance(v, Ref)]


class _Piece:
    """What one added structure makes a view show: parts of nodes, and the structures
    it depends on (a change to any of them recomputes it)."""

    __slots__ = ("fields", "whole", "items", "watched", "path")

    def __init__(self) -> None:
        self.fields: dict[int, tuple[Any, dict[Any, Any]]] = {}    # Schema and map refId -> (ref, {slot: value})
        self.whole: dict[int, tuple[Any, list[Any]]] = {}          # array/set/collection refId -> (ref, all items)
        self.items: dict[int, tuple[Any, dict[int, Any]]] = {}     # array/set/collection refId -> (ref, {id: item})
        self.watched: set[int] = set()
        # the way to the added structure: (holder, slots, child, how many slots held the child)
        self.path: list[tuple[Any, list[Any], Any, int]] = []

    def refids(self) -> set[int]:
        return set(self.fields) | set(self.whole) | set(self.items)

    def changed(self, other: _Piece) -> set[int]:
        """The refIds whose part differs between this piece and ``other``."""
        out = set()
        for mine, theirs in ((self.fields, other.fields), (self.whole, other.whole)):
            for rid in mine.keys() | theirs.keys():
                a, b = mine.get(rid), theirs.get(rid)
                if a is None or b is None or not _same_content(a[1], b[1]):
                    out.add(rid)
        # (arrays, sets and collections on the way: the order and number of the items
        # shown there come from the server's list, which is read again)
        return out | self.items.keys() | other.items.keys()


def _same_content(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))


class _Mirror:
    __slots__ = ("encoder", "nodes", "pieces", "tick", "stale")

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self.nodes: dict[int, _Node] = {}          # what the view's clients hold, by refId
        self.pieces: dict[int, _Piece] = {}        # by the StateView's key of the added structure
        self.tick = -1
        # Structures deleted from arrays by refId: the 3.x decoder keeps them (and
        # what they hold) as they were, so showing one again must rewrite it whole.
        self.stale: dict[int, Any] = {}


def _kind(ref: Any) -> int:
    if isinstance(ref, SchemaCore):
        return _SCHEMA
    if isinstance(ref, MapSchema):
        return _MAP
    if isinstance(ref, ArraySchema):
        return _ARRAY
    return _INDEXED


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if isinstance(a, Ref) or isinstance(b, Ref) or a is _ABSENT or b is _ABSENT:
        return False
    return type(a) is type(b) and a == b


def _number(n: int) -> bytes:
    return pack_primitive(_NUMBER, n)


class ViewWriter:
    """Writes the view parts of one Encoder (``Encoder.encode_view``/``encode_all_view``)."""

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self._touched_tick = -1
        self._touched_refids: set[int] = set()
        self._touched_ids: set[int] = set()
        self._slot_cache: dict[int, tuple[int, dict[int, list[Any]]]] = {}

    # ---- public -----------------------------------------------------------------

    def encode(self, view: StateView) -> bytes:
        mirror = self._mirror_of(view)
        enc = self.encoder
        tick = enc.view_tick
        if mirror.tick == tick:
            stale = set(view._changed)                  # (nothing changed in the state since)
        elif mirror.tick == tick - 1 and enc.touched is not None:
            stale = set(view._changed) | self._touched_pieces(mirror)
        else:
            stale = set(mirror.pieces) | set(view._explicit)     # (patches were missed: everything again)
        mirror.tick = tick
        view._changed.clear()
        if not stale:
            return b""
        affected = self._recompute(view, mirror, stale)
        return self._write(mirror, self._merge(mirror, affected), affected, full=False)

    def encode_all(self, view: StateView) -> bytes:
        mirror = self._mirror_of(view)
        tick = self.encoder.view_tick
        if mirror.tick == tick and not view._changed:
            # Other clients follow this view and hold what it shows now: a joiner gets
            # the same, numbered as they number it (later deletions then fit all).
            held = {rid: n.copy() for rid, n in mirror.nodes.items()}
            return self._write(mirror, held, set(held), full=True, replay=True)
        mirror.tick = tick
        view._changed.clear()
        mirror.nodes, mirror.pieces = {}, {}
        affected = self._recompute(view, mirror, set(view._explicit))
        return self._write(mirror, self._merge(mirror, affected), affected, full=True)

    def _mirror_of(self, view: StateView) -> _Mirror:
        if not isinstance(view, StateView):
            raise TypeError(f"expected a StateView, got {type(view).__name__}")
        if view._mirror is None:
            view._mirror = _Mirror(self.encoder)
        elif view._mirror.encoder is not self.encoder:
            raise ValueError("this StateView is used with another Encoder (one view per room)")
        return view._mirror

    def _touched_pieces(self, mirror: _Mirror) -> set[int]:
        # The pieces that depend on something the last encode() found changed (or
        # whose added structure itself was touched: it may have just been attached).
        enc = self.encoder
        if self._touched_tick != enc.view_tick:
            self._touched_tick = enc.view_tick
            # (what left the shared state: a view may now show the way to it)
            changed = [*enc.touched, *enc.left_shared]
            self._touched_refids = {r._refid for r in changed}
            self._touched_ids = {id(r) for r in changed}
        refids, ids = self._touched_refids, self._touched_ids
        if not refids:
            return set()
        return {key for key, piece in mirror.pieces.items()
                if key in ids or not refids.isdisjoint(piece.watched)}

    # ---- what a view shows now ------------------------------------------------------

    def _recompute(self, view: StateView, mirror: _Mirror, keys: set[int]) -> set[int]:
        """Recompute the pieces of ``keys``; the refIds whose nodes may have changed."""
        affected: set[int] = set()
        for key in keys:
            old = mirror.pieces.pop(key, None)
            entry = view._explicit.get(key)
            if entry is None:
                if old is not None:
                    affected |= old.refids()
                continue
            piece = self._piece(entry[0], entry[1], old)
            mirror.pieces[key] = piece
            affected |= piece.refids() if old is None else piece.changed(old)
        return affected

    def _piece(self, obj: Any, tags: set[int], old: _Piece | None) -> _Piece:
        """What adding ``obj`` with ``tags`` shows: the way to it, then it."""
        enc = self.encoder
        piece = _Piece()
        if obj._encoder is not enc:
            return piece                        # not (yet) in the state
        watched = piece.watched
        fields, whole, items = piece.fields, piece.whole, piece.items

        def slots_of(ref: Any) -> dict[Any, Any]:
            rid = ref._refid
            entry = fields.get(rid)
            if entry is None:
                entry = fields[rid] = (ref, {})
            return entry[1]

        # the way from the shared state (the last one, when it still holds)
        path = old.path if old is not None and _still_holds(old.path, obj) else self._path(obj)
        if path is None:
            return _Piece()                     # (not reachable: nothing shows)
        piece.path = path
        for holder, found, child, _ in path:
            watched.add(child._refid)
            watched.add(holder._refid)
            if isinstance(holder, (SchemaCore, MapSchema)):
                content = slots_of(holder)
                for slot in found:
                    content[slot] = child
            else:
                items.setdefault(holder._refid, (holder, {}))[1][id(child)] = child

        seen: set[tuple[int, frozenset[int]]] = set()

        def show(ref: Any, tags: frozenset[int]) -> None:
            key = (ref._refid, tags)
            if key in seen:
                return
            seen.add(key)
            watched.add(ref._refid)
            shared = ref._shared
            if isinstance(ref, SchemaCore):
                values = ref._raw_values()
                content: dict[Any, Any] | None = None if shared else slots_of(ref)
                for f in type(ref).__schema_info__.fields:
                    v = values[f.index]
                    if v is None:
                        continue
                    if f.view is not None:
                        if f.view not in tags:
                            continue
                        if content is None:
                            content = slots_of(ref)
                        content[f.index] = v
                    elif content is not None and not shared:
                        content[f.index] = v      # (a structure only in views: a node of its own)
                    if isinstance(v, Ref):
                        show(v, tags)           # (the shared patches carry a shared structure's other fields)
                return
            if isinstance(ref, MapSchema):
                values_list = list(ref.values())
                if not shared:
                    slots_of(ref).update(ref.items())
            else:
                values_list = list(ref) if isinstance(ref, ArraySchema) else [v for _, v in sorted(ref._raw_items())]
                if not shared:
                    whole[ref._refid] = (ref, values_list)
            for v in values_list:
                if isinstance(v, Ref):
                    show(v, tags)

        show(obj, frozenset(tags))
        return piece

    def _path(self, obj: Any) -> list[tuple[Any, list[Any], Any, int]] | None:
        """The slots from the shared state to ``obj`` (through the structures that hold
        it last); [] when ``obj`` is shared; None when nothing leads to it."""
        enc = self.encoder
        path = []
        child = obj
        while not child._shared:
            holder = child._holder
            if holder is None or holder._encoder is not enc:
                return None
            found = self._slots(holder, child)
            if not found:
                return None
            path.append((holder, found, child, child._holder_count))
            if holder._shared:
                break
            child = holder
        return path

    def _merge(self, mirror: _Mirror, affected: set[int]) -> dict[int, _Node]:
        """The nodes of ``affected`` as every piece of the view makes them."""
        nodes: dict[int, _Node] = {}
        chosen: dict[int, dict[int, Any]] = {}
        whole: set[int] = set()

        def node(ref: Any) -> _Node:
            n = nodes.get(ref._refid)
            if n is None:
                kind = _kind(ref)
                n = nodes[ref._refid] = _Node(ref, kind, _empty(kind), ref._shared)
            return n

        for piece in mirror.pieces.values():
            if affected.isdisjoint(piece.fields) and affected.isdisjoint(piece.whole) \
                    and affected.isdisjoint(piece.items):
                continue
            for rid, (ref, content) in piece.fields.items():
                if rid in affected:
                    node(ref).content.update(content)
            for rid, (ref, _) in piece.whole.items():
                if rid in affected:
                    node(ref)
                    whole.add(rid)
            for rid, (ref, picked) in piece.items.items():
                if rid in affected:
                    node(ref)
                    chosen.setdefault(rid, {}).update(picked)
        # the items of arrays, sets and collections, in the server's order
        for rid, n in nodes.items():
            if n.kind == _ARRAY or n.kind == _INDEXED:
                ref = n.ref
                values = list(ref) if n.kind == _ARRAY else [v for _, v in sorted(ref._raw_items())]
                if rid not in whole:
                    picked = chosen.get(rid, {})
                    values = [v for v in values if id(v) in picked]
                n.content = values
        return nodes

    def _slots(self, holder: Any, child: Any) -> list[Any]:
        """Where ``holder`` holds ``child``: field indexes or keys (for arrays, sets and
        collections, anything non-empty); empty if it does not."""
        if isinstance(holder, SchemaCore):
            return [i for i, v in enumerate(holder._raw_values()) if v is child]
        if isinstance(holder, ArraySchema):
            return [0] if any(v is child for v in holder) else []
        # maps, sets, collections: keys by identity, cached for the patch
        tick = self.encoder.view_tick
        cached = self._slot_cache.get(holder._refid)
        if cached is None or cached[0] != tick or holder._dirty:
            items = holder.items() if isinstance(holder, MapSchema) else holder._raw_items()
            keys: dict[int, list[Any]] = {}
            for k, v in items:
                if isinstance(v, Ref):
                    keys.setdefault(id(v), []).append(k)
            cached = (tick, keys)
            self._slot_cache[holder._refid] = cached
        get = holder.get if isinstance(holder, MapSchema) else holder._raw_get
        return [k for k in cached[1].get(id(child), ()) if get(k) is child]

    # ---- the bytes --------------------------------------------------------------------

    def _write(self, mirror: _Mirror, proj: dict[int, _Node], affected: set[int], *, full: bool,
               replay: bool = False) -> bytes:
        enc = self.encoder
        old_nodes = {} if replay else mirror.nodes
        out = bytearray()
        linked: list[set[int]] = []         # refIds the clients hold through a view slot (when needed)
        written: dict[int, _Node] = {}
        introduced: deque[int] = deque()
        # what just left the shared state: the clients hold all of it (until the end of
        # this message, when the shared part no longer holds it), not only what views showed
        left = {rid for r in enc.left_shared if not r._shared and (rid := r._refid) in proj} if not full else set()

        def known(rid: int, ref: Any) -> bool:
            if ref._shared or rid in old_nodes:
                return not full or ref._shared
            if full:
                return False
            if not linked:
                linked.append({r._refid for n in old_nodes.values() for r in n.refs()})
            return rid in linked[0]

        def value(ftype: Any, v: Any) -> bytes:
            if ftype.code <= _LAST_PRIMITIVE:
                return pack_primitive(ftype.code, v)
            rid = v._refid
            if rid not in written and rid in proj and not known(rid, v):
                introduced.append(rid)
            data = _number(rid)
            if ftype.code == _REF:
                # always an explicit type id: the next op byte can then never be mistaken for one
                data += _TYPE_ID + _number(enc._type_id_of(type(v)))
            return data

        updates = [(rid, n, old_nodes.get(rid)) for rid, n in proj.items() if known(rid, n.ref)]
        # what stopped being visible in shared structures: those view fields are deleted
        for rid in affected:
            old = old_nodes.get(rid)
            if (rid not in proj and old is not None and old.kind == _SCHEMA and old.ref._shared
                    and old.ref._encoder is enc):
                # (it may have been only in views before: its other fields are the shared patches' now)
                updates.append((rid, _Node(old.ref, _SCHEMA, {}, True), old))
        # The 3.x decoder releases the items of a collection that leaves a slot twice:
        # such collections are emptied first, in blocks of their own (as the shared
        # encoder does), and then count as empty on the client.
        cleared: set[int] = set()
        for _, new, old in updates:
            if old is None:
                continue
            for v in _leaving(old, new):
                rid = v._refid
                gone = old_nodes.get(rid)
                if rid not in cleared and gone is not None and gone.content:
                    out += _SWITCH + _number(rid) + bytes((_CLEAR,))
                    cleared.add(rid)

        stale = mirror.stale
        if stale and not full:
            for rid in [rid for rid, r in stale.items() if r._encoder is not enc]:
                del stale[rid]          # (gone from the state)

        def drop(v: Any) -> None:
            # deleted by refId: the clients keep it, and what it holds, as it was
            todo = [v]
            while todo:
                r = todo.pop()
                if r._refid not in stale:
                    stale[r._refid] = r
                    held = old_nodes.get(r._refid)
                    if held is not None:
                        todo.extend(held.refs())

        def block(rid: int, new: _Node, old: _Node | None) -> None:
            if old is not None and rid in cleared:
                old = _emptied(old)
            again = not full and stale.pop(rid, None) is not None and old is None
            ops = _ops(new, old, value, _ALL if again else _SHARED_PART if rid in left else 0, drop)
            if ops:
                out.extend(_SWITCH + _number(rid) + ops)

        for rid, new, old in updates:
            block(rid, new, old)
            if rid in proj:
                written[rid] = new
        # what became visible, parents first
        while introduced:
            rid = introduced.popleft()
            if rid not in written:
                n = proj[rid]
                written[rid] = n
                block(rid, n, None)
        # (nodes the change did not touch stay as the clients hold them)
        if not replay:
            nodes = {rid: n for rid, n in old_nodes.items() if rid not in affected}
            nodes.update(written)
            mirror.nodes = nodes
        return bytes(out)


def _empty(kind: int) -> Any:
    return {} if kind in (_SCHEMA, _MAP) else []


def _emptied(old: _Node) -> _Node:
    """``old`` after a CLEAR on the client: a map's indexes start again, a set's or
    collection's counter goes on (the client numbers items by how many it added)."""
    node = _Node(old.ref, old.kind, _held_empty(old.kind), old.shared)
    if old.kind == _INDEXED:
        node.next_index = old.next_index
    return node


def _held_empty(kind: int) -> Any:
    # (what clients hold of a set or collection is by index)
    return [] if kind == _ARRAY else {}


def _is_collection(v: Any) -> bool:
    return isinstance(v, Ref) and not isinstance(v, SchemaCore)


def _leaving(old: _Node, new: _Node) -> list[Any]:
    """The collections that an update of ``old`` to ``new`` takes out of a slot the
    client holds (for arrays rewritten whole: all their collections)."""
    before, after = old.content, new.content
    if old.kind == _SCHEMA and new.shared:
        fields = type(new.ref).__schema_info__.fields
        before = {i: o for i, o in before.items() if fields[i].view is not None}
    if old.kind == _SCHEMA or old.kind == _MAP:
        return [o for k, o in before.items() if _is_collection(o) and after.get(k, _ABSENT) is not o]
    if old.kind == _ARRAY:
        plan = _array_plan(new.ref.item_type, before, after)
        if plan == "same":
            return []
        if plan == "whole":
            return [o for o in before if _is_collection(o)]
        now = {id(v) for v in after}
        return [o for o in before if _is_collection(o) and id(o) not in now]
    if _indexed_plan(before, after) is None:
        return [o for o in before.values() if _is_collection(o)]
    return []


def _indexed_plan(before: dict[int, Any], after: list[Any]) -> tuple[dict[int, Any], list[Any]] | None:
    """How a set or collection goes from ``before`` (by index, in the client's
    order) to ``after`` (in the server's order): the items kept and the items to
    append; None when something must go. Clients of one view number items each
    with their own counter (a late joiner's differs), so a view never deletes
    an item by index: it clears and writes the collection again."""
    kept = [v for _, v in sorted(before.items())]
    if len(kept) > len(after) or not all(_same(a, b) for a, b in zip(kept, after)):
        return None
    return dict(before), after[len(kept):]


def _array_plan(child: Any, before: list[Any], after: list[Any]) -> str:
    """How an array goes from ``before`` to ``after`` on the client: ``"same"``,
    ``"refid"`` (deletions and appends, by refId: the client's order stays the
    server's) or ``"whole"`` (cleared and written again)."""
    if len(before) == len(after) and all(_same(a, b) for a, b in zip(before, after)):
        return "same"
    if child.code > _LAST_PRIMITIVE and len({id(v) for v in before}) == len(before) \
            and len({id(v) for v in after}) == len(after):
        now = {id(v) for v in after}
        kept = [v for v in before if id(v) in now]
        if all(a is b for a, b in zip(kept, after)):
            return "refid"
    return "whole"


def _ops(new: _Node, old: _Node | None, value: Any, unknown: int = 0, dropped: Any = None) -> bytes:
    """The ops that turn what the client holds of a structure (``old``; None: nothing)
    into ``new``. Map, set and collection nodes take the client's indexes along.
    ``unknown``: what the clients may hold beyond ``old``: ``_SHARED_PART`` (the
    structure just left the shared state: what the shared patches gave them, which
    the view may not show) or ``_ALL`` (anything: it is rewritten whole)."""
    ops = bytearray()
    kind, ref = new.kind, new.ref
    before = old.content if old is not None else _held_empty(kind)
    if unknown and kind != _SCHEMA:
        ops.append(_CLEAR)
        before = _held_empty(kind)
        if old is not None:
            old = _emptied(old)
    if kind == _SCHEMA:
        fields = type(ref).__schema_info__.fields
        after = new.content
        if unknown:
            before = dict(before)
            for f in fields:
                if f.view is None or unknown == _ALL:
                    before.setdefault(f.index, _UNKNOWN)
        slots = set(before) | set(after)
        if new.shared:
            # its other fields are the shared patches' (it may have been only in views before)
            slots = {i for i in slots if fields[i].view is not None}
        for i in sorted(slots):
            o, v = before.get(i, _ABSENT), after.get(i, _ABSENT)
            if _same(o, v):
                continue
            if v is _ABSENT:
                ops.append(_DELETE | i)
            elif o is _ABSENT or o is _UNKNOWN or not isinstance(v, Ref):
                ops.append(_ADD | i)
                ops += value(fields[i].type, v)
            else:
                ops.append(_DELETE_AND_ADD | i)
                ops += value(fields[i].type, v)
    elif kind == _MAP:
        child = ref.item_type
        if old is not None:
            new.indexes, new.next_index = dict(old.indexes), old.next_index
        for key in before:
            if key not in new.content:
                ops.append(_DELETE)
                ops += _number(new.indexes.pop(key))
        for key, v in new.content.items():
            o = before.get(key, _ABSENT)
            if _same(o, v):
                continue
            if o is _ABSENT:
                if key not in new.indexes:      # (a joiner of a view in use: the index its clients hold)
                    new.indexes[key] = new.next_index
                    new.next_index += 1
                ops.append(_ADD)
            elif isinstance(o, Ref) and isinstance(v, Ref):
                ops.append(_DELETE_AND_ADD)
            else:
                ops.append(_ADD)
            ops += _number(new.indexes[key]) + pack_primitive(_STRING, key) + value(child, v)
    elif kind == _ARRAY:
        child = ref.item_type
        after = new.content
        plan = _array_plan(child, before, after)
        if plan == "refid":
            now = {id(v) for v in after}
            kept = sum(1 for v in before if id(v) in now)
            for v in before:
                if id(v) not in now:
                    ops.append(_DELETE_BY_REFID)
                    ops += _number(v._refid)
                    if dropped is not None and isinstance(v, Ref):
                        dropped(v)
            for v in after[kept:]:
                ops.append(_ADD_BY_REFID)
                ops += _number(v._refid) + value(child, v)
        elif plan == "whole":
            ops.append(_CLEAR)
            for i, v in enumerate(after):
                ops.append(_ADD)
                ops += _number(i) + value(child, v)
    else:
        child = ref.item_type
        appending = _indexed_plan(before, new.content)
        if appending is None:
            ops.append(_CLEAR)              # (the whole collection again, in order)
            appending = {}, new.content
        held, fresh = appending
        # (the client numbers items by how many it has added: a clear does not reset that)
        nxt = old.next_index if old is not None else 0
        for v in fresh:
            held[nxt] = v
            ops.append(_ADD)
            ops += _number(nxt) + value(child, v)
            nxt += 1
        new.content, new.next_index = held, nxt
    return bytes(ops)


def _still_holds(path: list[tuple[Any, list[Any], Any, int]], obj: Any) -> bool:
    """Whether a way found before still leads to ``obj`` (cheaper than finding it again)."""
    if not path:
        return bool(obj._shared)
    if path[0][2] is not obj:
        return False
    for holder, found, child, count in path:
        if child._holder is not holder or child._holder_count != count or child._shared:
            return False
        if isinstance(holder, SchemaCore):
            values = holder._raw_values()
            if any(values[i] is not child for i in found):
                return False
        elif isinstance(holder, MapSchema):
            if any(holder.get(k) is not child for k in found):
                return False
        elif isinstance(holder, ArraySchema):
            if not any(v is child for v in holder):
                return False
        elif any(holder._raw_get(k) is not child for k in found):
            return False
    return bool(path[-1][0]._shared)
