"""Membership of the hub in one object: what the API, the pages and the CLI use.

    membership = Membership(database, settings)
    membership.applications.submit(form)
    membership.members.suspend(3, "...")
    membership.dues.lapse_check()
    membership.keys.register("hub-3", public_key_text)

``clock`` gives every part the same idea of now (tests fix it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from hashmatch.hub.applications import Applications
from hashmatch.hub.dues import Dues
from hashmatch.hub.member_keys import MemberKeys
from hashmatch.hub.members import Members
from hashmatch.store.models import utcnow

if TYPE_CHECKING:
    from hashmatch.settings import Settings
    from hashmatch.store import Database


class Membership:
    def __init__(
        self, database: Database, settings: Settings, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        grace = settings.hub_dues_grace_days
        self.applications = Applications(database, clock=clock)
        self.members = Members(database, grace_days=grace, clock=clock)
        self.dues = Dues(database, grace_days=grace, clock=clock)
        self.keys = MemberKeys(database, clock=clock)
