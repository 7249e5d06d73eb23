"""Indexes that never miss a match: Hamming range search, exact maps and phrases."""

from hashmatch.index import snapshot
from hashmatch.index.exact import ExactIndex
from hashmatch.index.hamming import hex_from_words, words_from_hex
from hashmatch.index.live import HammingIndex
from hashmatch.index.mih import MultiIndex
from hashmatch.index.text import PhraseIndex

__all__ = [
    "ExactIndex",
    "HammingIndex",
    "MultiIndex",
    "PhraseIndex",
    "hex_from_words",
    "snapshot",
    "words_from_hex",
]
