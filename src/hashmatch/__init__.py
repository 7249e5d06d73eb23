"""hashmatch: find known content by perceptual and exact hashes.

>>> import hashmatch
>>> hashmatch.get_signal_type("pdq").default_threshold
31
"""

from hashmatch.errors import (
    CorruptMediaError,
    EmptyFileError,
    FileTooLargeError,
    HashmatchError,
    ImageTooLargeError,
    InvalidHashError,
    MediaError,
    UnknownSignalTypeError,
    UnsupportedMediaError,
)
from hashmatch.hashing import FileHashes, HashRequest, hash_file, hash_files, iter_files
from hashmatch.media import DecodeLimits, OpenedImage, open_image
from hashmatch.pdq import (
    Hash256,
    PdqDihedralResult,
    PdqResult,
    pdq_dihedral_from_luma,
    pdq_dihedral_from_rgb,
    pdq_from_luma,
    pdq_from_rgb,
)
from hashmatch.signals import (
    BytesSignalType,
    ImageSignalType,
    SignalType,
    SignalValue,
    get_signal_type,
    signal_types,
)
from hashmatch.signals.base import DihedralSignalType

__version__ = "0.1.0"

__all__ = [
    "BytesSignalType",
    "CorruptMediaError",
    "DecodeLimits",
    "DihedralSignalType",
    "EmptyFileError",
    "FileHashes",
    "FileTooLargeError",
    "Hash256",
    "HashRequest",
    "HashmatchError",
    "ImageSignalType",
    "ImageTooLargeError",
    "InvalidHashError",
    "MediaError",
    "OpenedImage",
    "PdqDihedralResult",
    "PdqResult",
    "SignalType",
    "SignalValue",
    "UnknownSignalTypeError",
    "UnsupportedMediaError",
    "__version__",
    "get_signal_type",
    "hash_file",
    "hash_files",
    "iter_files",
    "open_image",
    "pdq_dihedral_from_luma",
    "pdq_dihedral_from_rgb",
    "pdq_from_luma",
    "pdq_from_rgb",
    "signal_types",
]
