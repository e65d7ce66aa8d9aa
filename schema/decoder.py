"""Applying full states and patches to a local state: ``Decoder``.

The work is done by the compiled core (``_decoding.DecoderCore``: the tables the
reference's decoder keeps, and every op). Malformed input raises
``DecodeError``; the ops applied before the error stay applied and the
reference counts stay consistent.
"""
from __future__ import annotations

from typing import Generic, TypeVar

from ._context import type_ids
from ._decoding import DecoderCore
from ._schema_core import SchemaCore
from .callbacks import Callbacks
from .changes import Change

__all__ = ["Decoder", "Change"]

T = TypeVar("T", bound=SchemaCore)


class Decoder(DecoderCore, Generic[T]):
    """Decodes full states and patches into ``state``.

    ``types`` maps type ids to classes; by default they are numbered from the
    state's class like the encoder does (or taken from a handshake, see
    ``Reflection.decode``). ``callbacks`` registers change listeners.

    With ``strict=False`` a block for an unknown refId, or an op on a field the
    local class does not have, is skipped up to the next block of a known
    structure (with a warning on the ``schema.decoder`` logger) instead of
    raising: that is what the reference decoder does, and what a client needs
    with servers whose encoder sometimes writes such blocks (3.x does) or whose
    classes are newer than the client's.
    """

    def __init__(self, state: T, types: dict[int, type] | None = None, *, strict: bool = True) -> None:
        if not isinstance(state, SchemaCore):
            raise TypeError(f"Decoder() needs a Schema instance, got {type(state).__name__}")
        if types is None:
            ids = getattr(type(state), "__schema_type_ids__", None) or type_ids(type(state))
            types = {tid: cls for cls, tid in ids.items()}
        self.types = types
        self.strict = strict
        self.callbacks = Callbacks(self)
        self.reset(state)

    # (typed here for the checker; the compiled core holds them)
    state: T
    callbacks: Callbacks
