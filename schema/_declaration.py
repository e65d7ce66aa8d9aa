"""``Schema``: declaring state classes from annotations.

A subclass's annotated attributes become fields, numbered in declaration order
after the fields of its parent. The metaclass turns them into ``__slots__``, so
that reading a field is a plain slot read, and describes each one with a
``Field`` in the class's ``SchemaInfo``; writes go through
``SchemaCore.__setattr__``, which records them. Annotations are resolved when
the class is created, or on first use when they refer to a class defined later.
"""
from __future__ import annotations

import typing
import weakref
from typing import Any, ClassVar, dataclass_transform

from ._tracking import Ref
from ._fieldtype import FieldType
from ._schema_core import MAX_FIELDS, Field, SchemaCore, SchemaInfo
from .errors import SchemaError
from .types import field_type

__all__ = ["Schema", "field", "subclasses_of", "LazyType"]

_MISSING: Any = object()

# direct parent -> subclasses, in definition order (used to number types the way
# the reference does). The reference only registers subclasses that declare a
# field; here every subclass is listed, so that one without own fields can still
# be sent as itself. Weak, so that classes built from handshakes can be collected.
_subclasses: weakref.WeakKeyDictionary[type, list[weakref.ref[type]]] = weakref.WeakKeyDictionary()


DEFAULT_VIEW_TAG = -1     # the tag of field(view=True), and of StateView.add(obj) without one


class _FieldSpec:
    __slots__ = ("default", "default_factory", "view", "wire_name")

    def __init__(self, default: Any, default_factory: Any, view: int | None, wire_name: str | None) -> None:
        self.default = default
        self.default_factory = default_factory
        self.view = view
        self.wire_name = wire_name


def field(*, default: Any = _MISSING, default_factory: Any = _MISSING, view: bool | int = False,
          wire_name: str | None = None) -> Any:
    """Give a field a default value, or a factory called for every new instance.

    ``view=True`` (or an int tag) makes it a view field: it, and everything
    below it, is left out of the state every client gets, and sent only to the
    clients whose ``StateView`` shows it (see ``pyseus.schema.StateView``).
    ``wire_name`` is the field's name for clients (in the handshake and in
    ``to_json()``) when it differs from the attribute's: ``session_id:
    string = field(wire_name="sessionId")``.
    """
    if wire_name is not None and (not isinstance(wire_name, str) or not wire_name):
        raise TypeError("field(wire_name=...) takes a non-empty string")
    if default is not _MISSING and default_factory is not _MISSING:
        raise TypeError("field() takes default or default_factory, not both")
    if isinstance(view, bool):
        tag = DEFAULT_VIEW_TAG if view else None
    elif isinstance(view, int):
        tag = view
    else:
        raise TypeError(f"field(view=...) takes True or an int tag, not {type(view).__name__}")
    return _FieldSpec(default, default_factory, tag, wire_name)


def subclasses_of(cls: type) -> list[type]:
    """Direct Schema subclasses of ``cls``, in definition order."""
    alive = [c for c in (r() for r in _subclasses.get(cls, ())) if c is not None]
    if cls in _subclasses:
        _subclasses[cls] = [weakref.ref(c) for c in alive]
    return alive


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return annotation is ClassVar or typing.get_origin(annotation) is ClassVar


_FieldDecl = tuple[str, Any, Any, Any, Any, Any]   # name, annotation, default, factory, view tag, wire name


class SchemaMeta(type):
    """Builds Schema classes: fields become slots, described by a SchemaInfo."""

    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any], **kwargs: Any) -> Any:
        schema_bases: list[Any] = [b for b in bases if isinstance(b, SchemaMeta)]
        if not schema_bases:
            return super().__new__(mcls, name, bases, ns, **kwargs)   # Schema itself
        if len(schema_bases) != 1:
            raise SchemaError(f"{name}: a Schema class has exactly one Schema base class")
        parent_info: SchemaInfo = schema_bases[0].__schema_info__
        own = _declared_fields(name, ns, parent_info)
        names = [decl[0] for decl in own]
        for field_name in names:
            ns.pop(field_name, None)     # defaults live in the Field, the slot holds the value
        slots = ns.get("__slots__", ())
        slots = (slots,) if isinstance(slots, str) else tuple(slots)
        for slot in slots:
            if slot in parent_info.by_name or slot in names:
                raise SchemaError(f"{name}: __slots__ names the field {slot!r}")
        ns["__slots__"] = slots + tuple(names)
        cls = super().__new__(mcls, name, bases, ns, **kwargs)
        _declare(cls, schema_bases[0], parent_info, own)
        return cls


@dataclass_transform(eq_default=False, kw_only_default=True, field_specifiers=(field,))
class Schema(SchemaCore, metaclass=SchemaMeta):
    """Base class of synchronised state.

    Declare fields with annotations (``x: float32 = 0.0``); instances take them as
    keyword arguments. Every assignment is recorded for the Encoder. Instances
    compare and hash by identity. Names starting with ``_`` and ``ClassVar``
    annotations are ordinary attributes and are not sent.
    """

    __schema_info__: ClassVar[SchemaInfo]


Schema.__schema_info__ = SchemaInfo(Schema, [], lambda cls: None)


_RESERVED = frozenset(dir(SchemaCore)) | {"__schema_info__", "__schema_fields__", "__schema_namespace__",
                                          "__schema_type_ids__", "__schema_ref_type__"}


def _declared_fields(cls_name: str, ns: dict[str, Any], parent_info: SchemaInfo) -> list[_FieldDecl]:
    # The fields a class body declares, checked before the class is built.
    explicit = ns.get("__schema_fields__")
    if explicit is not None:
        # classes built from a handshake: every name is a field, types are given
        own: list[_FieldDecl] = [(name, spec, _MISSING, _MISSING, None, None) for name, spec in explicit]
    else:
        own = _annotated_fields(cls_name, ns)
    for name, *_ in own:
        if name in parent_info.by_name:
            raise SchemaError(f"{cls_name}.{name}: already declared by {parent_info.by_name[name].owner.__name__}")
        if name in _RESERVED or (name.startswith("__") and name.endswith("__")):
            raise SchemaError(f"{cls_name}.{name}: this name is used by Schema itself")
    total = parent_info.nfields + len(own)
    if total > MAX_FIELDS:
        raise SchemaError(
            f"{cls_name} has {total} fields (with its parents); the wire allows at most {MAX_FIELDS}")
    return own


def _annotated_fields(cls_name: str, ns: dict[str, Any]) -> list[_FieldDecl]:
    own = []
    for name, annotation in ns.get("__annotations__", {}).items():
        if name.startswith("_") or _is_classvar(annotation):
            continue
        value = ns.get(name, _MISSING)
        default, factory, view, wire_name = _MISSING, _MISSING, None, None
        if isinstance(value, _FieldSpec):
            default, factory, view, wire_name = value.default, value.default_factory, value.view, value.wire_name
        elif value is not _MISSING:
            default = value
        if isinstance(default, Ref):
            raise SchemaError(
                f"{cls_name}.{name}: a Schema or collection instance cannot be a default "
                "(it would be shared by every instance); use field(default_factory=...)")
        own.append((name, annotation, default, factory, view, wire_name))
    return own


def _declare(cls: Any, base: type, parent_info: SchemaInfo, own: list[_FieldDecl]) -> None:
    fields = list(parent_info.fields)
    for name, annotation, default, factory, view, wire_name in own:
        fields.append(Field(name, len(fields), cls, annotation,
                            None if default is _MISSING else default,
                            None if factory is _MISSING else factory,
                            default is not _MISSING, view, wire_name))
    wire: dict[str, str] = {}
    for f in fields:
        if f.wire_name in wire:
            raise SchemaError(f"{cls.__name__}.{f.name}: its wire name {f.wire_name!r} is also {wire[f.wire_name]}'s")
        wire[f.wire_name] = f.name
    info = SchemaInfo(cls, fields, _resolve)
    cls.__schema_info__ = info
    known = _subclasses.setdefault(base, [])
    known[:] = [r for r in known if r() is not None]      # (classes built from handshakes come and go)
    known.append(weakref.ref(cls))
    try:
        info.resolve()
    except _UnresolvedName:
        pass   # a forward reference: resolved when the class is first used


class _UnresolvedName(SchemaError):
    pass


def _resolve(cls: Any) -> None:
    # Give every field declared by `cls` its wire type (parents first).
    for base in cls.__mro__[1:]:
        parent_info = base.__dict__.get("__schema_info__")
        if parent_info is not None:
            parent_info.resolve()
            break
    info: SchemaInfo = cls.__schema_info__
    own = [f for f in info.fields if f.owner is cls]
    hints: dict[str, Any] = {}
    if any(not isinstance(f.annotation, (FieldType, LazyType)) for f in own):
        localns = dict(getattr(cls, "__schema_namespace__", None) or {})
        localns.setdefault(cls.__name__, cls)
        try:
            hints = typing.get_type_hints(cls, localns=localns, include_extras=True)
        except NameError as e:
            raise _UnresolvedName(f"{cls.__name__}: cannot resolve a field annotation ({e})") from None
    for f in own:
        annotation = f.annotation
        if isinstance(annotation, LazyType):
            try:
                ftype = annotation.resolve()
            except (KeyError, NameError) as e:
                raise _UnresolvedName(f"{cls.__name__}.{f.name}: type not available yet ({e!r})") from None
        elif isinstance(annotation, FieldType):
            ftype = annotation
        else:
            ftype, _ = field_type(hints[f.name])
        if f.has_default and f.default is not None:
            try:
                ftype.validate(f.default, f"{cls.__name__}.{f.name}")
            except (TypeError, ValueError) as e:
                raise SchemaError(f"invalid default: {e}") from None
        f._set_type(ftype)


class LazyType:
    """A field type computed on first use (for classes that refer to each other)."""

    __slots__ = ("_make",)

    def __init__(self, make: Any) -> None:
        self._make = make

    def resolve(self) -> FieldType:
        made: FieldType = self._make()
        return made
