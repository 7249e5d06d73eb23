"""Pixels of a Pillow image as a numpy array, without copying when possible.

``numpy.asarray(image)`` goes through ``Image.tobytes()``: a full copy of the
pixels into a fresh buffer, which costs as much as hashing them.  Pillow also
exports its own pixel memory through the Arrow C data interface
(``__arrow_c_array__``), a stable ABI, so the array can point at Pillow's
memory instead.  Images Pillow keeps in several blocks, and formats other than
one byte per channel, fall back to the copy.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np
from PIL import Image


class _ArrowSchema(ctypes.Structure):
    pass


_ArrowSchema._fields_ = [
    ("format", ctypes.c_char_p),
    ("name", ctypes.c_char_p),
    ("metadata", ctypes.c_char_p),
    ("flags", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("children", ctypes.POINTER(ctypes.POINTER(_ArrowSchema))),
    ("dictionary", ctypes.c_void_p),
    ("release", ctypes.c_void_p),
    ("private_data", ctypes.c_void_p),
]


class _ArrowArray(ctypes.Structure):
    pass


_ArrowArray._fields_ = [
    ("length", ctypes.c_int64),
    ("null_count", ctypes.c_int64),
    ("offset", ctypes.c_int64),
    ("n_buffers", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("buffers", ctypes.POINTER(ctypes.c_void_p)),
    ("children", ctypes.POINTER(ctypes.POINTER(_ArrowArray))),
    ("dictionary", ctypes.c_void_p),
    ("release", ctypes.c_void_p),
    ("private_data", ctypes.c_void_p),
]

_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


class _BorrowedPixels:
    """Keeps Pillow's export alive for as long as the numpy array exists.

    The capsules release Pillow's reference to its memory when they are
    garbage collected, which numpy delays until the array (whose ``base``
    this object is) goes away.
    """

    def __init__(self, capsules: tuple[Any, Any], address: int, shape: tuple[int, ...]) -> None:
        self._capsules = capsules
        self.__array_interface__ = {
            "shape": shape,
            "typestr": "|u1",
            "data": (address, True),
            "version": 3,
        }


def _borrow(image: Image.Image, channels: int) -> np.ndarray | None:
    try:
        capsules = image.__arrow_c_array__()
    except (AttributeError, ValueError, OSError):
        return None
    schema = _ArrowSchema.from_address(_capsule_pointer(capsules[0], b"arrow_schema"))
    array = _ArrowArray.from_address(_capsule_pointer(capsules[1], b"arrow_array"))
    width, height = image.size
    if array.offset or array.null_count or array.length != width * height:
        return None
    if channels == 1:
        if schema.format != b"C" or array.n_buffers != 2:
            return None
        data = array
    else:
        if schema.format != b"+w:4" or array.n_children != 1:
            return None
        data = array.children[0].contents
        if schema.children[0].contents.format != b"C" or data.offset or data.n_buffers != 2:
            return None
    address = data.buffers[1]
    if not address:
        return None
    shape = (height, width) if channels == 1 else (height, width, 4)
    return np.asarray(_BorrowedPixels(capsules, address, shape))


def rgb_pixels(image: Image.Image) -> np.ndarray:
    """(H, W, 3) or (H, W, 4) uint8 RGB(X) pixels; ``image`` must be mode RGB."""
    if image.mode != "RGB":
        raise ValueError(f"expected an RGB image, got mode {image.mode}")
    borrowed = _borrow(image, 4)
    return borrowed if borrowed is not None else np.asarray(image)


def gray_pixels(image: Image.Image) -> np.ndarray:
    """(H, W) uint8 pixels; ``image`` must be mode L."""
    if image.mode != "L":
        raise ValueError(f"expected an L image, got mode {image.mode}")
    borrowed = _borrow(image, 1)
    return borrowed if borrowed is not None else np.asarray(image)
