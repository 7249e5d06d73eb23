"""Who works the review queue, and which queues admit them.

    alice = Reviewer("user:alice", role="reviewer")
    admits(["role:reviewer", "key:triage-bot"], alice)   # True

A queue's access list names roles (``role:<role>``), people
(``user:<name>``) and API keys (``key:<name>``); an empty list admits
everyone who may review at all (the ``review`` permission of a role, the
``review`` scope of a key).  Admins are always admitted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from hashmatch.accounts.roles import ROLES
from hashmatch.errors import ReviewError

#: What an access entry looks like.
_ENTRY = re.compile(r"(role|user|key):[A-Za-z0-9_.@-]{1,100}")


@dataclass(frozen=True)
class Reviewer:
    """A person (``user:<name>`` with their role) or a key (``key:<name>``,
    ``cli:<os user>``: no role) acting on the queue."""

    name: str
    role: str | None = None
    #: Admins reopen decided items and see every queue.
    is_admin: bool = False


def admits(access: Iterable[str], reviewer: Reviewer) -> bool:
    """Whether a queue with this access list lets ``reviewer`` work it."""
    entries = list(access)
    if not entries or reviewer.is_admin:
        return True
    return reviewer.name in entries or (
        reviewer.role is not None and f"role:{reviewer.role}" in entries
    )


def check_access_list(entries: Iterable[str]) -> list[str]:
    """The entries, each checked (``role:`` a known role); ReviewError naming a bad one."""
    checked = []
    for entry in entries:
        if not isinstance(entry, str) or not _ENTRY.fullmatch(entry):
            raise ReviewError(
                f"access entry {entry!r} must be role:<role>, user:<name> or key:<name>"
            )
        if entry.startswith("role:") and entry[5:] not in ROLES:
            raise ReviewError(f"access entry {entry!r}: roles are {', '.join(ROLES)}")
        checked.append(entry)
    return sorted(set(checked))
