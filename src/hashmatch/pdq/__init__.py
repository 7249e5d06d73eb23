"""PDQ, Meta's perceptual image hash, bit-identical to the reference C++."""

from hashmatch.pdq.hash256 import Hash256
from hashmatch.pdq.hasher import (
    DIHEDRAL_TRANSFORMS,
    MIN_MATCH_QUALITY,
    PdqDihedralResult,
    PdqResult,
    dihedral_dcts,
    pdq_dihedral_from_luma,
    pdq_dihedral_from_rgb,
    pdq_from_luma,
    pdq_from_rgb,
)

__all__ = [
    "DIHEDRAL_TRANSFORMS",
    "MIN_MATCH_QUALITY",
    "Hash256",
    "PdqDihedralResult",
    "PdqResult",
    "dihedral_dcts",
    "pdq_dihedral_from_luma",
    "pdq_dihedral_from_rgb",
    "pdq_from_luma",
    "pdq_from_rgb",
]
