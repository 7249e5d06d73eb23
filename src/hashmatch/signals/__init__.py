"""Signal types: one module per kind of hash, found through entry points."""

from hashmatch.signals.base import (
    BytesSignalType,
    Digest,
    ImageSignalType,
    SignalType,
    SignalValue,
)
from hashmatch.signals.registry import get_signal_type, signal_types

__all__ = [
    "BytesSignalType",
    "Digest",
    "ImageSignalType",
    "SignalType",
    "SignalValue",
    "get_signal_type",
    "signal_types",
]
