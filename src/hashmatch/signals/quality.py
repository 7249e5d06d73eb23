"""Content a bank can hold but never match perceptually, said out loud.

A perceptual hash under its type's quality floor (PDQ: 50) comes from a
picture too flat to hash reliably (a gradient, a blank page), and matching
skips such hashes.  A bank still takes it, and these sentences say what that
means:

>>> quality_warnings({"pdq": 0})
['pdq quality 0 is under 50, the least that matching uses: this pdq hash never matches']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from hashmatch.signals.base import HammingSignalType
from hashmatch.signals.registry import get_signal_type


def quality_warnings(quality: Mapping[str, int]) -> list[str]:
    """One sentence per hash whose quality is under its type's matching floor."""
    warnings = []
    for name, value in sorted(quality.items()):
        kind = get_signal_type(name)
        floor = kind.min_match_quality if isinstance(kind, HammingSignalType) else 0
        if value < floor:
            warnings.append(
                f"{name} quality {value} is under {floor}, the least that matching uses: "
                f"this {name} hash never matches"
            )
    return warnings


def count_low_quality(qualities: Iterable[Mapping[str, int]]) -> int:
    """Of contents with these qualities (a hash list's, where it gives them),
    how many have a hash under its type's floor."""
    return sum(bool(quality_warnings(quality)) for quality in qualities)
