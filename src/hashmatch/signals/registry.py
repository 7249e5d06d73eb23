"""Finding signal types: every class registered under the entry point group.

Built-in types are registered in ``pyproject.toml`` the same way a plugin
package registers its own::

    [project.entry-points."hashmatch.signal_types"]
    pdq = "hashmatch.signals.pdq:PdqSignal"
"""

from __future__ import annotations

from functools import cache

from hashmatch.errors import UnknownSignalTypeError
from hashmatch.signals.base import SignalType, TextSearchSignalType

ENTRY_POINT_GROUP = "hashmatch.signal_types"


@cache
def signal_types() -> dict[str, SignalType]:
    """Every installed signal type by name, in name order."""
    from importlib.metadata import entry_points  # not needed until then, and not light

    found: dict[str, SignalType] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        cls = entry.load()
        if not (isinstance(cls, type) and issubclass(cls, SignalType)):
            raise TypeError(f"entry point {entry.name!r} is not a SignalType subclass: {cls!r}")
        if cls.name != entry.name:
            raise TypeError(f"entry point {entry.name!r} names a signal type called {cls.name!r}")
        found[cls.name] = cls()
    return dict(sorted(found.items()))


def get_signal_type(name: str) -> SignalType:
    """The signal type called ``name``, or UnknownSignalTypeError."""
    types = signal_types()
    try:
        return types[name]
    except KeyError:
        raise UnknownSignalTypeError(name, list(types)) from None


def is_text_search(name: str) -> bool:
    """Whether the type called ``name`` finds banked phrases inside a query text
    (False for a name no installed type has)."""
    types = signal_types()
    return name in types and isinstance(types[name], TextSearchSignalType)


def parse_query(name: str, text: str) -> str:
    """What a lookup searches for: a text-search type's query text, folded
    (a message in which keywords are found), any other type's parsed hash."""
    signal_type = get_signal_type(name)
    if isinstance(signal_type, TextSearchSignalType):
        return signal_type.normalise_text(text)
    return signal_type.parse(text)
