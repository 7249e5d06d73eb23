"""Keywords as a signal type: banked phrases found inside a submitted text.

A bank holds phrases (Lantern's grooming and trading keywords); a query is
a message, a caption or a profile's text, and every banked phrase that
occurs in it at word boundaries matches, all at once.  Phrases and texts are
folded alike (:func:`~hashmatch.signals.text_values.folded`: NFKC,
case-folded, runs of whitespace made one space), so ``Foo   BAR`` in a text
finds the phrase ``foo bar``:

>>> KeywordSignal().parse("  Foo\\tBAR ")
'foo bar'
>>> KeywordSignal().normalise_text("Hello,\\n  FOO bar!")
'hello, foo bar!'
"""

from __future__ import annotations

import re
from typing import ClassVar

from hashmatch.errors import InvalidHashError
from hashmatch.signals import names
from hashmatch.signals.base import TextSearchSignalType
from hashmatch.signals.text_values import checked_value, folded, one_line

#: Control characters in a query text are read as spaces (a message may
#: hold stray ones; a phrase may not).
_CONTROL = re.compile("[\x00-\x1f\x7f]")


class KeywordSignal(TextSearchSignalType):
    """A phrase; a query text matches every banked phrase it contains."""

    name: ClassVar[str] = names.KEYWORD
    default_threshold: ClassVar[int] = 0

    def parse(self, text: str) -> str:
        phrase = folded(one_line(self.name, " ".join(text.split()), 10_000))
        if not any(ch.isalnum() for ch in phrase):
            raise InvalidHashError(f"a keyword needs a letter or digit, got {text[:80]!r}")
        return checked_value(self.name, phrase)

    def normalise_text(self, text: str) -> str:
        if len(text) > self.max_text_chars:
            raise InvalidHashError(
                f"a keyword query text is at most {self.max_text_chars} characters, got {len(text)}"
            )
        return folded(one_line(self.name, _CONTROL.sub(" ", text), self.max_text_chars))
