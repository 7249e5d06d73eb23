"""The review queue: people confirm or clear matches, safely (docs/review.md).

    review = Review(database, settings, banks)
    item = review.items.claim_next(reviewer, "default")
    review.reveals.grant(reviewer, item["id"], kind="preview", seconds=4)
    review.decisions.decide(item["id"], reviewer, Verdict("confirm", classification="A1"))

One object per concern: :class:`Queues` (names, access, SLAs, what waits),
:class:`Items` (queueing, claims, reading), :class:`Decisions` (decisions
and what they set going), :class:`Reveals` (every clear look, capped per
day) and :class:`Wellness` (each reviewer's view and the break reminder).

The names are imported when first used: submissions (``actions``) import
``review.queues`` for due times, and the review modules import submissions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hashmatch.review.decisions import Verdict
    from hashmatch.review.desk import Review
    from hashmatch.review.reviewer import Reviewer

__all__ = ["Review", "Reviewer", "Verdict"]

_HOMES = {
    "Review": "hashmatch.review.desk",
    "Reviewer": "hashmatch.review.reviewer",
    "Verdict": "hashmatch.review.decisions",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name not in _HOMES:
        raise AttributeError(f"module 'hashmatch.review' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
