"""Email addresses as a signal type: the normalised address, matched exactly.

>>> EmailSignal().parse("  J.Doe+forum@GoogleMail.com ")
'jdoe@gmail.com'
>>> EmailSignal().parse("Anna@Bücher.Example")
'anna@xn--bcher-kva.example'

* spaces around the address are trimmed; the domain is lower-cased, without
  a trailing dot, in IDNA when it is internationalised;
* the local part is lower-cased.  RFC 5321 lets a server treat ``Anna`` and
  ``anna`` as two mailboxes, but no large provider does, and a signal that
  misses a capitalised copy of an address is worth less than one that would,
  in theory, join two mailboxes one server keeps apart;
* provider rules, for providers that document them (:data:`PROVIDERS`):
  Gmail ignores dots in the local part and ``googlemail.com`` is
  ``gmail.com``; these providers deliver ``name+tag@`` to ``name@``, so the
  tag is dropped.  The rules are fixed, not a setting: members that share
  addresses (or their keyed hashes) must all write one address the same way.

Quoted local parts (``"a b"@example.com``) and address literals
(``a@[192.0.2.1]``) are refused: no real account uses them.
"""

from __future__ import annotations

import re
from typing import ClassVar

from hashmatch.errors import InvalidHashError
from hashmatch.signals import names
from hashmatch.signals.text_values import ExactTextSignalType, ascii_host, one_line

#: RFC 5321's limits.
MAX_ADDRESS_CHARS = 254
MAX_LOCAL_CHARS = 64
#: Domains written as another: ``googlemail.com`` is Gmail's other name.
SAME_DOMAIN = {"googlemail.com": "gmail.com"}
#: (ignores dots, drops ``+tag``) per provider domain.
PROVIDERS: dict[str, tuple[bool, bool]] = {
    "gmail.com": (True, True),
    "outlook.com": (False, True),
    "hotmail.com": (False, True),
    "live.com": (False, True),
    "icloud.com": (False, True),
    "me.com": (False, True),
    "fastmail.com": (False, True),
    "proton.me": (False, True),
    "protonmail.com": (False, True),
}
#: What a local part may hold: RFC 5322's dot-atom, plus any non-ASCII
#: letter (RFC 6531, internationalised addresses).
_LOCAL = re.compile(r"^[^\s\"(),:;<>@\[\\\]]+$")


def normalise_email(text: str) -> str:
    """The canonical form of an address (see the module's docstring)."""
    address = one_line(names.EMAIL, text.strip(), MAX_ADDRESS_CHARS)
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise InvalidHashError(f"not an email address (name@domain): {address[:80]!r}")
    if len(local) > MAX_LOCAL_CHARS or not _LOCAL.match(local):
        raise InvalidHashError(
            f"not an email address: the part before @ must be 1-{MAX_LOCAL_CHARS} characters "
            f"with no spaces, quotes or brackets: {address[:80]!r}"
        )
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidHashError(f"not an email address (dots out of place): {address[:80]!r}")
    domain = ascii_host(domain)
    if "." not in domain:
        raise InvalidHashError(f"not an email address (the domain has no dot): {address[:80]!r}")
    domain = SAME_DOMAIN.get(domain, domain)
    local = local.lower()
    ignores_dots, drops_tags = PROVIDERS.get(domain, (False, False))
    if drops_tags:
        local = local.partition("+")[0] or local
    if ignores_dots:
        local = local.replace(".", "") or local
    return f"{local}@{domain}"


class EmailSignal(ExactTextSignalType):
    """An email address (Lantern shares them): normalised, matched exactly."""

    name: ClassVar[str] = names.EMAIL

    def normalise(self, text: str) -> str:
        return normalise_email(text)
