"""Finding exchange source types: every class under the entry point group.

Built-in types are registered in ``pyproject.toml`` as a plugin registers its own::

    [project.entry-points."hashmatch.exchanges"]
    ncmec = "hashmatch.exchange.ncmec:NcmecSource"
"""

from __future__ import annotations

from functools import cache

from hashmatch.errors import InvalidFieldError
from hashmatch.exchange.base import ExchangeSource

ENTRY_POINT_GROUP = "hashmatch.exchanges"


@cache
def source_types() -> dict[str, type[ExchangeSource]]:
    """Every installed source type by name, in name order."""
    from importlib.metadata import entry_points

    found: dict[str, type[ExchangeSource]] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        cls = entry.load()
        if not (isinstance(cls, type) and issubclass(cls, ExchangeSource)):
            raise TypeError(f"entry point {entry.name!r} is not an ExchangeSource subclass")
        if cls.name != entry.name:
            raise TypeError(f"entry point {entry.name!r} names a source called {cls.name!r}")
        found[cls.name] = cls
    return dict(sorted(found.items()))


def get_source_type(name: str) -> type[ExchangeSource]:
    """The source type called ``name`` (or by HMA's name for it), else InvalidFieldError."""
    types = source_types()
    if name in types:
        return types[name]
    for cls in types.values():
        if cls.hma_name and cls.hma_name == name:
            return cls
    raise InvalidFieldError(f"unknown exchange type {name!r}; known: {', '.join(types)}")
