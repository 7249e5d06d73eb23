"""What the text signal types (url, email, username, keyword) share: the
checks every value passes, exact matching on a normalised form
(:class:`ExactTextSignalType`) and the Unicode folding that makes two
spellings of one name equal.

>>> folded("  Ｃａｆé\u00a0LATTE ")
'café latte'
"""

from __future__ import annotations

import re
import unicodedata
from abc import abstractmethod
from typing import ClassVar

import idna

from hashmatch.errors import InvalidFieldError, InvalidHashError
from hashmatch.fieldlimits import check_text
from hashmatch.signals import names
from hashmatch.signals.base import SignalType

#: The width of the stored value column (``content_signals.value``): a
#: normalised URL may fill it.
MAX_VALUE_CHARS = 2048
#: The types whose values are bounded tighter: an address as RFC 5321 allows
#: (its IDNA domain may have grown it), ``platform:handle`` (32 + 1 + 100),
#: and a phrase (a few words, not a message).
MAX_CHARS_OF = {names.EMAIL: 254, names.USERNAME: 133, names.KEYWORD: 128}
#: Labels of letters, digits, "-" and "_" (some real hosts have one), not
#: starting or ending with "-", at most 63 characters each.
_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_ASCII_HOST = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")


def one_line(signal_type: str, text: str, max_chars: int = 1_000_000) -> str:
    """``text``, if it has no control characters, NULs or lone surrogates."""
    try:
        return check_text(signal_type, text, max_chars=max_chars, one_line=True)
    except InvalidFieldError as error:
        raise InvalidHashError(str(error)) from None


def folded(text: str) -> str:
    """NFKC, case-folded (NFKC_Casefold, as Unicode's identifier caseless
    match), runs of whitespace made one space, trimmed: full-width letters,
    ligatures, ``ß``/``ss`` and ``I``/``i`` spell one name."""
    text = unicodedata.normalize("NFKC", text)
    text = unicodedata.normalize("NFKC", text.casefold())
    return " ".join(text.split())


def checked_value(signal_type: str, value: str) -> str:
    """``value``, if it is not empty and fits its type's bound (at most
    the stored value column)."""
    if not value:
        raise InvalidHashError(f"a {signal_type} signal cannot be empty")
    most = MAX_CHARS_OF.get(signal_type, MAX_VALUE_CHARS)
    if len(value) > most:
        raise InvalidHashError(
            f"a {signal_type} signal is at most {most} characters once "
            f"normalised, got {len(value)}: {value[:80]!r}"
        )
    return value


class ExactTextSignalType(SignalType):
    """A text type matched exactly on its normalised form (url, email,
    username): a subclass says how a value is normalised."""

    default_threshold: ClassVar[int] = 0

    @abstractmethod
    def normalise(self, text: str) -> str:
        """The canonical form of ``text``; InvalidHashError when it is none."""

    def parse(self, text: str) -> str:
        return checked_value(self.name, self.normalise(text))

    def distance(self, a: str, b: str) -> int:
        """0 for the same canonical value, else 1."""
        return 0 if a == b else 1


def ascii_host(host: str) -> str:
    """A host name lower-cased, without a trailing dot, in IDNA (UTS #46
    mapping, IDNA 2008) when it is internationalised: ``Bücher.Example.``
    -> ``xn--bcher-kva.example``.  InvalidHashError for what is no host name."""
    name = host.rstrip(".").lower()
    if name.isascii() and "xn--" not in name:
        if len(name) > 253 or not _ASCII_HOST.match(name):
            raise InvalidHashError(f"{host[:80]!r} is not a host name")
        return name
    try:
        return idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError as error:
        raise InvalidHashError(f"host {host[:80]!r}: {error}") from None
