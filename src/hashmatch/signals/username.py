"""Accounts on a platform as a signal type: ``platform:handle``, matched exactly.

>>> UsernameSignal().parse(" Instagram : @\uff2a\uff41\uff4e\uff45_Doe ")
'instagram:jane_doe'

* the platform is lower-case: one of :data:`KNOWN_PLATFORMS`, or any other
  name of letters, digits, ``.``, ``_`` and ``-`` (a forum's own domain,
  say), so that an account anywhere can be shared;
* the handle loses one leading ``@`` and is NFKC-normalised and case-folded
  (full-width letters, ligatures and capitals spell one handle; every large
  platform treats handles without regard to case), with runs of whitespace
  made one space.
"""

from __future__ import annotations

import re
from typing import ClassVar

from hashmatch.errors import InvalidHashError
from hashmatch.signals import names
from hashmatch.signals.text_values import ExactTextSignalType, folded, one_line

#: Platforms written the same way by every member (any other name is taken too).
KNOWN_PLATFORMS = (
    "bluesky", "discord", "facebook", "instagram", "kik", "linkedin", "mastodon",
    "reddit", "roblox", "signal", "snapchat", "telegram", "threads", "tiktok",
    "twitch", "twitter", "whatsapp", "youtube",
)  # fmt: skip
MAX_HANDLE_CHARS = 100
_PLATFORM = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")


def normalise_username(text: str) -> str:
    """The canonical ``platform:handle`` (see the module's docstring)."""
    one_line(names.USERNAME, text, 1_000)
    platform, colon, handle = text.partition(":")
    platform = platform.strip().lower()
    if not colon or not _PLATFORM.match(platform):
        raise InvalidHashError(
            "a username is platform:handle, the platform 1-32 letters, digits, '.', '_' "
            f"or '-' (e.g. {', '.join(KNOWN_PLATFORMS[:3])}), got {text[:80]!r}"
        )
    handle = folded(handle).removeprefix("@").strip()
    if not handle or len(handle) > MAX_HANDLE_CHARS:
        raise InvalidHashError(
            f"a username's handle is 1-{MAX_HANDLE_CHARS} characters, got {text[:80]!r}"
        )
    return f"{platform}:{handle}"


class UsernameSignal(ExactTextSignalType):
    """An account on a platform (Lantern shares them): normalised, matched exactly."""

    name: ClassVar[str] = names.USERNAME

    def normalise(self, text: str) -> str:
        return normalise_username(text)
