"""The public surface: ``hashmatch.__all__`` is sorted and complete."""

from __future__ import annotations

import types

import hashmatch


def test_all_is_sorted() -> None:
    assert hashmatch.__all__ == sorted(hashmatch.__all__)


def test_all_lists_every_public_name() -> None:
    public = {
        name
        for name, value in vars(hashmatch).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public | {"__version__"} == set(hashmatch.__all__)
