# cython: language_level=3
"""Wire constants of @colyseus/schema (declared in _spec.pxd): ``Operation``,
``Marker`` and ``TypeCode``."""
