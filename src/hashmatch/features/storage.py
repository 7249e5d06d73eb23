"""A bank image's features in at most 8 KB: a small, versioned binary layout.

All integers little-endian::

    offset  size      field
    0       4         magic b"HMLF"
    4       1         version (1)
    5       1         reserved, 0
    6       2         n, keypoints stored (at most STORED_KEYPOINTS)
    8       2         working width in pixels
    10      2         working height in pixels
    12      32 * n    descriptors, 32 bytes (256 bits) each, best keypoint first
    ..      4 * n     x, y as uint16 in 1/16 pixel (exact to 0.03 px; 4096 px max)
    ..      n         pyramid octave, uint8
    ..      n         angle, uint8 in 360/256 degree steps

That is 12 + 38 n bytes: 7,612 bytes at the 200 keypoints kept.
"""

from __future__ import annotations

import struct

import numpy as np

from hashmatch.features.extract import Features

MAGIC = b"HMLF"
VERSION = 1
#: Keypoints kept per bank image: 200 keeps a blob under 8 KB.
STORED_KEYPOINTS = 200
_HEADER = struct.Struct("<4sBBHHH")
_POSITION_STEPS = 16
_ANGLE_STEPS = 256


class FeatureBlobError(ValueError):
    """Stored features that cannot be read (wrong magic, version or length)."""


def encode_features(features: Features) -> bytes:
    """Pack the first :data:`STORED_KEYPOINTS` keypoints."""
    kept = features.head(STORED_KEYPOINTS)
    n = len(kept)
    positions = np.clip(np.rint(kept.points * _POSITION_STEPS), 0, 65535).astype("<u2")
    angles = np.rint(kept.angles * _ANGLE_STEPS / 360).astype(np.int64) % _ANGLE_STEPS
    return b"".join(
        (
            _HEADER.pack(MAGIC, VERSION, 0, n, kept.width, kept.height),
            kept.descriptors.tobytes(),
            positions.tobytes(),
            kept.octaves.astype(np.uint8).tobytes(),
            angles.astype(np.uint8).tobytes(),
        )
    )


def decode_features(blob: bytes) -> Features:
    """The inverse of :func:`encode_features` (positions to 1/16 px, angles to 1.4°)."""
    if len(blob) < _HEADER.size:
        raise FeatureBlobError(f"feature blob too short ({len(blob)} bytes)")
    magic, version, _, n, width, height = _HEADER.unpack_from(blob)
    if magic != MAGIC:
        raise FeatureBlobError("not a feature blob (bad magic)")
    if version != VERSION:
        raise FeatureBlobError(f"unsupported feature blob version {version}")
    expected = _HEADER.size + 38 * n
    if len(blob) != expected:
        raise FeatureBlobError(f"feature blob is {len(blob)} bytes, expected {expected}")
    at = _HEADER.size
    descriptors = np.frombuffer(blob, np.uint8, 32 * n, at).reshape(n, 32)
    at += 32 * n
    positions = np.frombuffer(blob, "<u2", 2 * n, at).reshape(n, 2)
    at += 4 * n
    octaves = np.frombuffer(blob, np.uint8, n, at)
    angles = np.frombuffer(blob, np.uint8, n, at + n)
    return Features(
        width,
        height,
        positions.astype(np.float32) / _POSITION_STEPS,
        octaves.copy(),
        angles.astype(np.float32) * 360 / _ANGLE_STEPS,
        descriptors.copy(),
    )
