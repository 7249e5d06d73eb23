"""A live phrase index: every stored phrase that occurs in a text, at word
boundaries, found in one pass of an Aho-Corasick automaton.

    >>> index = PhraseIndex()
    >>> index.add([(1, "foo bar"), (2, "bar"), (3, "oo")])
    >>> sorted(index.search("so foo bar!"))
    [1, 2]

("oo" is in the text too, but inside a word.)

An automaton cannot take a phrase while it is searched, and building one is
linear in the phrases it holds, so the index keeps two, as the Hamming index
keeps a main part and a delta: a *main* automaton over most phrases, and a
*delta* over those added since, rebuilt on each addition (it stays small).
When the delta, or the phrases removed since, pass a share of the main
automaton, both are rebuilt as one main automaton.  Removed phrases stay in
the automata until then and are dropped when their ids are looked up: the
maps from phrase to ids are the truth, the automata only find candidates.

Readers take the pair of automata in one read (it is replaced whole) and
look ids up under the lock; writers take turns, and build automata outside
the lock, so a rebuild never stalls a search.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import ahocorasick

#: The delta is merged into the main automaton past this share of it (or the minimum).
MERGE_SHARE = 0.05
MIN_MERGE = 1_000
#: Scripts written without spaces between words (Han, kana, Thai, Lao,
#: Myanmar, Khmer): a phrase in them is found anywhere in a text.
_UNSPACED = (
    (0x0E00, 0x0EFF),
    (0x1000, 0x109F),
    (0x1780, 0x17FF),
    (0x2E80, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3FFFF),
)


def _word(ch: str) -> bool:
    """Whether ``ch`` is part of a word that spaces delimit."""
    if not (ch.isalnum() or ch == "_"):
        return False
    if ch.isascii():
        return True
    code = ord(ch)
    return not any(low <= code <= high for low, high in _UNSPACED)


def _at_boundaries(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` does not begin or end inside a word."""
    before = start > 0 and _word(text[start - 1]) and _word(text[start])
    after = end < len(text) and _word(text[end]) and _word(text[end - 1])
    return not (before or after)


def _automaton(phrases: Iterable[str]) -> ahocorasick.Automaton | None:
    automaton = ahocorasick.Automaton()
    for phrase in phrases:
        automaton.add_word(phrase, phrase)
    if not len(automaton):
        return None
    automaton.make_automaton()
    return automaton


class PhraseIndex:
    """Phrases (already folded) under integer ids, searched in texts.

    Thread-safe: searches run concurrently with each other and with updates.
    """

    def __init__(self) -> None:
        self._write = threading.Lock()  # one writer at a time
        self._lock = threading.Lock()  # the maps
        self._ids: dict[str, set[int]] = {}
        self._phrase_of: dict[int, str] = {}
        #: Phrases in the main automaton and in the delta.
        self._in_main: frozenset[str] = frozenset()
        self._in_delta: set[str] = set()
        self._removed_since_merge = 0
        #: (main, delta): replaced whole, never one half at a time.
        self._automata: tuple[ahocorasick.Automaton | None, ahocorasick.Automaton | None] = (
            None,
            None,
        )

    def __len__(self) -> int:
        return len(self._phrase_of)

    def add(self, entries: Iterable[tuple[int, str]]) -> None:
        """Store phrases under ids; found by searches as soon as this returns."""
        with self._write:
            new: set[str] = set()
            with self._lock:
                for entry_id, phrase in entries:
                    self._ids.setdefault(phrase, set()).add(entry_id)
                    self._phrase_of[entry_id] = phrase
                    if phrase not in self._in_main and phrase not in self._in_delta:
                        new.add(phrase)
            if not new:
                return
            self._in_delta.update(new)
            if self._merge_due():
                self._merge()
            else:
                self._automata = (self._automata[0], _automaton(self._in_delta))

    def remove(self, ids: Iterable[int]) -> None:
        """Stop finding the phrases stored under these ids."""
        with self._write:
            with self._lock:
                for entry_id in ids:
                    phrase = self._phrase_of.pop(entry_id, None)
                    if phrase is None:
                        continue
                    held = self._ids[phrase]
                    held.discard(entry_id)
                    if not held:
                        del self._ids[phrase]
                        self._removed_since_merge += 1
            if self._merge_due():
                self._merge()

    def search(self, text: str) -> set[int]:
        """Ids of every stored phrase that occurs in ``text`` at word boundaries."""
        found: set[str] = set()
        for automaton in self._automata:  # one read: a consistent pair
            if automaton is None:
                continue
            for last, phrase in automaton.iter(text):
                if phrase not in found and _at_boundaries(text, last + 1 - len(phrase), last + 1):
                    found.add(phrase)
        with self._lock:
            return {entry_id for phrase in found for entry_id in self._ids.get(phrase, ())}

    def _merge_due(self) -> bool:
        threshold = max(MIN_MERGE, int(MERGE_SHARE * len(self._in_main)))
        return len(self._in_delta) + self._removed_since_merge >= threshold

    def _merge(self) -> None:
        """One main automaton over every live phrase (the writer lock held:
        no phrase is added meanwhile, and searches go on with the old pair)."""
        with self._lock:
            live = frozenset(self._ids)
        self._automata = (_automaton(live), None)
        self._in_main = live
        self._in_delta = set()
        self._removed_since_merge = 0
