"""What a ``hashmatch`` process loads before it answers, and how it ends.

Start-up time is held by what is imported, not by a clock: ``--version`` and
``--help`` load none of the heavy libraries, hashing loads neither the
database's nor the web server's.  benchmarks/startup_speed.py prints the times.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import DATA

#: (typer itself brings pydantic, to read arguments; that is not counted.)
HEAVY = ("numba", "sqlalchemy", "alembic", "av", "fastapi", "uvicorn", "numpy", "PIL")


def imported(*args: str) -> set[str]:
    """The top-level packages a ``hashmatch`` process imports for ``args``."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "hashmatch.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["bank", "--help"]])
def test_version_and_help_import_no_heavy_library(args: list[str]) -> None:
    assert imported(*args).isdisjoint(HEAVY)


def test_hashing_a_file_imports_neither_the_database_nor_the_web_server() -> None:
    modules = imported("hash", str(DATA / "photos" / "nature-beach-malibu.jpg"))
    assert "numba" in modules  # the PDQ kernel, as it should
    assert modules.isdisjoint({"sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn"})


def test_a_reader_that_stops_early_ends_the_command_quietly() -> None:
    # More lines than a pipe holds, so that writing fails once it is closed.
    folders = [str(DATA / "photos")] * 5
    process = subprocess.Popen(
        [sys.executable, "-m", "hashmatch.cli", "hash", "--dihedral", "--jobs", "1", *folders],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    process.stdout.close()  # as `| head -n 1` does
    _, errors = process.communicate(timeout=120)
    assert first.startswith(b'{"path": ')
    assert (process.returncode, errors) == (0, b"")
