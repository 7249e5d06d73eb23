"""The review queue as the server holds it: one object per concern."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hashmatch.review.appeals import Appeals
from hashmatch.review.decisions import Decisions
from hashmatch.review.items import Items
from hashmatch.review.queues import Queues
from hashmatch.review.reveals import Reveals
from hashmatch.review.wellness import Wellness

if TYPE_CHECKING:
    from hashmatch.banks import Banks
    from hashmatch.settings import Settings
    from hashmatch.store import Database


class Review:
    def __init__(self, database: Database, settings: Settings, banks: Banks) -> None:
        self.queues = Queues(database, settings)
        self.items = Items(database, settings, self.queues)
        self.decisions = Decisions(database, settings, self.items, banks)
        self.reveals = Reveals(database, settings, self.items)
        self.wellness = Wellness(database, settings)
        self.appeals = Appeals(database, settings, self.decisions)
