from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch import Hash256, InvalidHashError

SAMPLE = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def test_round_trip_and_case() -> None:
    assert Hash256.from_hex(SAMPLE.upper()).hex == SAMPLE
    assert Hash256.from_hex(f"  {SAMPLE}\n").hex == SAMPLE


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SAMPLE[:-1], "64 hex digits, got 63"),
        (SAMPLE + "0", "64 hex digits, got 65"),
        ("", "got 0"),
        ("g" + SAMPLE[1:], "hex digits only"),
        (SAMPLE[:32] + " " + SAMPLE[33:], "hex digits only"),
    ],
)
def test_invalid_hashes_are_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(InvalidHashError, match=message):
        Hash256.from_hex(text)


def test_bit_order_is_left_to_right() -> None:
    """Bit 0 of the vector is the first hex digit's highest bit."""
    first = Hash256.from_hex("8" + "0" * 63)
    last = Hash256.from_hex("0" * 63 + "1")
    assert first.bytes[0] == 0x80
    assert last.bytes[-1] == 0x01


@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_distance_is_popcount_of_xor(a: bytes, b: bytes) -> None:
    expected = sum(bin(x ^ y).count("1") for x, y in zip(a, b, strict=True))
    assert Hash256(a).distance(Hash256(b)) == expected
    assert Hash256(a).distance(Hash256(a)) == 0
