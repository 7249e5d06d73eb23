"""The public surface: ``hashmatch.__all__`` is sorted and complete."""

from __future__ import annotations

import inspect
import subprocess
import sys
import types

import hashmatch
from hashmatch import errors


def test_all_is_sorted() -> None:
    assert hashmatch.__all__ == sorted(hashmatch.__all__)


def test_every_listed_name_resolves() -> None:
    for name in hashmatch.__all__:
        value = getattr(hashmatch, name)
        assert not isinstance(value, types.ModuleType), name


def test_all_lists_every_public_name() -> None:
    public = {
        name
        for name in dir(hashmatch)
        if not name.startswith("_")
        and not isinstance(getattr(hashmatch, name), types.ModuleType)
        and name not in {"annotations", "importlib", "TYPE_CHECKING", "Any"}
    }
    assert public | {"__version__"} == set(hashmatch.__all__)


def test_every_error_class_is_exported() -> None:
    classes = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, errors.HashmatchError)
    }
    assert classes <= set(hashmatch.__all__)


def test_the_main_objects_are_exported() -> None:
    for name in ("Banks", "Matcher", "Match", "Database", "Settings", "HammingIndex"):
        assert name in hashmatch.__all__


def test_importing_the_package_stays_light() -> None:
    """``import hashmatch`` loads neither numba, SQLAlchemy nor PyAV."""
    code = "import sys, hashmatch; print(sorted({'numba', 'sqlalchemy', 'av'} & set(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"
