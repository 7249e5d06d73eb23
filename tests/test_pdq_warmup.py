"""Warming up the PDQ kernel: every specialisation hashing uses, loaded ahead,
and a notice when (and only when) something compiles."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from hashmatch.pdq.warmup import COMPILING_NOTICE, announcing_compiles, warm_up
from tests.conftest import DATA

#: Lists every compiled specialisation of the PDQ kernels, after ``action``.
SIGNATURES = """
import sys
from hashmatch.pdq import fast, kernel
ACTION
for module in (kernel, fast):
    for name in sorted(dir(module)):
        function = getattr(module, name)
        if hasattr(function, "signatures") and hasattr(function, "py_func"):
            print(name, sorted(map(str, function.signatures)))
"""
HASH_EVERY_WAY = f"""
from hashmatch.hashing import HashRequest, hash_file
for path in ("{DATA}/photos/nature-beach-malibu.jpg", "{DATA}/video/kenburns.mp4"):
    for fast_mode in (False, True):
        for dihedral in (False, True):
            assert hash_file(path, HashRequest(fast=fast_mode, dihedral=dihedral)).ok
"""


def signatures_after(action: str) -> str:
    script = SIGNATURES.replace("ACTION", action)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    ).stdout


def test_warm_up_loads_what_hashing_uses() -> None:
    warmed = signatures_after("from hashmatch.pdq.warmup import warm_up; warm_up(print)")
    hashed = signatures_after(HASH_EVERY_WAY)
    assert "dct_and_quality [" in warmed
    assert warmed == hashed


def test_the_notice_comes_when_a_kernel_compiles_and_only_then() -> None:
    @numba.njit(cache=False)
    def triple(value: int) -> int:
        return value * 3

    said: list[str] = []
    with announcing_compiles(lambda: said.append("compiling"), packages=(__name__,)) as first:
        assert triple(2) == 6  # compiles: the notice, once
        assert triple(3) == 9
        assert triple(2.5) == 7.5  # compiles again: no second notice
    assert (said, first.compiled) == (["compiling"], True)
    with announcing_compiles(lambda: said.append("again"), packages=(__name__,)) as loaded:
        triple(4)  # compiled already
    with announcing_compiles(lambda: said.append("other"), packages=("elsewhere",)):
        numba.njit(cache=False)(lambda value: value + 1)(1)  # not a function of ours
    assert (said, loaded.compiled) == (["compiling"], False)


def test_warm_up_says_nothing_when_the_kernel_is_cached() -> None:
    warm_up(lambda _: None)
    said: list[str] = []
    assert warm_up(said.append) is False
    assert said == []
    assert COMPILING_NOTICE == "compiling the PDQ kernel, about 20 s, once per machine"


@pytest.mark.slow
def test_the_first_run_on_a_machine_says_it_compiles(tmp_path: Path) -> None:
    """A fresh numba cache is a machine that never ran hashmatch (about 10 s)."""
    photo = DATA / "photos" / "nature-beach-malibu.jpg"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    runs = [
        subprocess.run(
            [sys.executable, "-m", "hashmatch.cli", "hash", str(photo)],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=True,
        )
        for _ in range(2)
    ]
    assert runs[0].stderr.startswith(f"{COMPILING_NOTICE}...\n")
    assert COMPILING_NOTICE not in runs[1].stderr  # the cache has it now
    assert runs[0].stdout == runs[1].stdout


def test_a_read_only_array_is_a_kernel_of_its_own() -> None:
    """Why warm_up hashes read-only pixels: numba types them apart."""
    writable = np.zeros((4, 4), np.uint8)
    read_only = writable.copy()
    read_only.setflags(write=False)
    assert numba.typeof(writable) != numba.typeof(read_only)
