"""Compiling the PDQ kernel before it is needed, and saying so when it happens.

numba compiles each kernel the first time it runs and keeps the machine code
in its cache, so the first use on a machine waits about 20 s and later
processes load it in a fraction of a second.  A server calls
:func:`warm_up` before it reports ready, so that no request waits; a command
wraps its work in :func:`announcing_compiles` so that a long first run says
why it is slow.

    warm_up(log.info)   # logs COMPILING_NOTICE if, and only if, it compiles
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numba.core import event

from hashmatch.pdq import hasher

COMPILING_NOTICE = "compiling the PDQ kernel, about 20 s, once per machine"
#: The packages whose numba functions make up the PDQ kernel.
PDQ_PACKAGES = ("hashmatch.pdq", "hashmatch.signals.vpdq")
#: The side of the images the kernels are run on: over the 64 pixels that PDQ
#: samples, so every branch of the blur is taken.
_SIDE = 80


class _FirstCompile(event.Listener):
    """Calls ``announce`` once, when a function of ``packages`` starts compiling."""

    def __init__(self, announce: Callable[[], None], packages: tuple[str, ...]) -> None:
        self._announce = announce
        self._packages = packages
        self.compiled = False

    def on_start(self, event: Any) -> None:
        module = getattr(event.data["dispatcher"].py_func, "__module__", "") or ""
        if not self.compiled and module.startswith(self._packages):
            self.compiled = True
            self._announce()

    def on_end(self, event: Any) -> None:
        pass


@contextmanager
def announcing_compiles(
    announce: Callable[[], None], *, packages: tuple[str, ...] = PDQ_PACKAGES
) -> Iterator[_FirstCompile]:
    """Within the block, call ``announce()`` when a numba function of
    ``packages`` is first compiled (loading one from the cache is not
    compiling); the listener's ``compiled`` says afterwards whether one was."""
    listener = _FirstCompile(announce, packages)
    with event.install_listener("numba:compile", listener):
        yield listener


def warm_up(say: Callable[[str], None]) -> bool:
    """Compile, or load from the cache, every PDQ kernel; True if it compiled.

    numba specialises a kernel for the arrays it is given, down to whether
    they are read-only, so these are the arrays hashing makes: decoded RGB and
    RGBX pixels and fast mode's grey pixels (read-only, Pillow's own memory),
    each hashed plainly and with its 8 rotations and flips, and a video
    frame's float32 luma.  ``say`` gets COMPILING_NOTICE first if the kernels
    are not in the cache.
    """
    ramp = np.add.outer(np.arange(_SIDE), np.arange(_SIDE)) * 255 // (2 * _SIDE)
    gray = _read_only(ramp.astype(np.uint8))
    with announcing_compiles(lambda: say(COMPILING_NOTICE)) as listener:
        for channels in (3, 4):
            rgb = _read_only(np.repeat(gray[:, :, None], channels, axis=2))
            hasher.pdq_from_rgb(rgb)
            hasher.pdq_dihedral_from_rgb(rgb)
        hasher.pdq_from_luma(gray, fast=True)
        hasher.pdq_dihedral_from_luma(gray, fast=True)
        frame_luma = gray.astype(np.float32)
        hasher.pdq_from_luma(frame_luma)
        hasher.pdq_dihedral_from_luma(frame_luma)
    return listener.compiled


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array
