"""A mypy plugin: Schema constructors take every field as an optional keyword.

At run time a field left out of ``Player(...)`` gets its default, an empty
collection, or None; ``dataclass_transform`` (what mypy reads otherwise) makes
a field declared without a default, such as ``players: MapSchema[Player]``,
a required argument. Enable it in the project's mypy configuration::

    [tool.mypy]
    plugins = ["pyseus.mypy_plugin"]
"""
from __future__ import annotations

from collections.abc import Callable

from mypy.nodes import ARG_NAMED, ARG_NAMED_OPT, TypeInfo
from mypy.plugin import FunctionSigContext, Plugin
from mypy.types import CallableType, FunctionLike

__all__ = ["plugin"]

_SCHEMA = "pyseus.schema._declaration.Schema"


def _is_schema(info: TypeInfo) -> bool:
    return any(base.fullname == _SCHEMA for base in info.mro)


def _every_field_optional(ctx: FunctionSigContext) -> FunctionLike:
    signature: CallableType = ctx.default_signature
    kinds = [ARG_NAMED_OPT if kind == ARG_NAMED else kind for kind in signature.arg_kinds]
    return signature.copy_modified(arg_kinds=kinds)


class _SchemaPlugin(Plugin):
    def get_function_signature_hook(self, fullname: str) -> Callable[[FunctionSigContext], FunctionLike] | None:
        symbol = self.lookup_fully_qualified(fullname)
        if symbol is not None and isinstance(symbol.node, TypeInfo) and _is_schema(symbol.node):
            return _every_field_optional
        return None


def plugin(version: str) -> type[Plugin]:
    """mypy's entry point."""
    return _SchemaPlugin
