"""Signal types: one module per kind of hash, found through entry points."""

from hashmatch.signals.base import (
    BytesSignalType,
    Digest,
    ImageSignalType,
    SignalType,
    SignalValue,
    TextSearchSignalType,
)
from hashmatch.signals.registry import get_signal_type, is_text_search, parse_query, signal_types

__all__ = [
    "BytesSignalType",
    "Digest",
    "ImageSignalType",
    "SignalType",
    "SignalValue",
    "TextSearchSignalType",
    "get_signal_type",
    "is_text_search",
    "parse_query",
    "signal_types",
]
