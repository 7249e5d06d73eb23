"""Moderator wellness: each reviewer's own view settings within the admin's
bounds, and the break reminder.

    view = Wellness(database, settings).view_of("user:alice")
    view.blur_px, view.grayscale, view.reveal_seconds, view.break_due

Blur and grayscale are on unless a reviewer turns them down, and never
below the settings' bounds (``review_blur_min_px``; grayscale may be turned
off only where ``review_color_allowed``; reveals last at most
``review_reveal_max_seconds``).  Every claim notes the reviewer's activity:
a pause of :data:`PAUSE` or more starts a new stretch, and a stretch longer
than ``review_break_minutes`` shows a break reminder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from hashmatch import audit
from hashmatch.errors import ReviewError
from hashmatch.store.database import conflict_insert
from hashmatch.store.models import as_utc, utcnow
from hashmatch.store.review_models import ReviewerPreference

if TYPE_CHECKING:
    from hashmatch.settings import Settings
    from hashmatch.store import Database

#: A pause this long ends a stretch in the queue.
PAUSE = timedelta(minutes=10)


@dataclass(frozen=True)
class View:
    """How media is shown to one reviewer, and whether a break is due."""

    blur_px: int
    grayscale: bool
    reveal_seconds: int
    #: Minutes in the current stretch (0: none).
    stretch_minutes: int
    break_due: bool


def own_row(session: Session, reviewer: str) -> ReviewerPreference:
    """``reviewer``'s row, made if missing and locked for the transaction.
    Made by one ``INSERT ... ON CONFLICT DO NOTHING``: two first claims of
    one reviewer at once (two tabs) never both insert it."""
    dialect = session.get_bind().dialect.name
    session.execute(
        conflict_insert(dialect, ReviewerPreference)
        .values(reviewer=reviewer)
        .on_conflict_do_nothing(index_elements=["reviewer"])
    )
    row = session.get(ReviewerPreference, reviewer, with_for_update=True)
    assert row is not None  # inserted above, or there already
    return row


def note_activity(session: Session, reviewer: str, now: datetime) -> None:
    """Record that ``reviewer`` worked the queue at ``now`` (in the caller's transaction)."""
    row = own_row(session, reviewer)
    last = as_utc(row.last_active_at) if row.last_active_at is not None else None
    if last is None or row.stretch_started_at is None or now - last >= PAUSE:
        row.stretch_started_at = now
    row.last_active_at = now


class Wellness:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings

    def view_of(self, reviewer: str) -> View:
        """``reviewer``'s settings, held within today's bounds (an admin may
        have tightened them since the reviewer chose)."""
        with self.database.reading() as session:
            row = session.get(ReviewerPreference, reviewer)
        settings = self.settings
        blur = row.blur_px if row is not None and row.blur_px is not None else None
        gray = row.grayscale if row is not None and row.grayscale is not None else None
        reveal = row.reveal_seconds if row is not None and row.reveal_seconds else None
        now = utcnow()
        stretch = 0
        if (
            row is not None
            and row.stretch_started_at
            and row.last_active_at
            and now - as_utc(row.last_active_at) < PAUSE
        ):
            stretch = int((now - as_utc(row.stretch_started_at)).total_seconds() // 60)
        return View(
            blur_px=max(blur or settings.review_blur_px, settings.review_blur_min_px),
            grayscale=True if not settings.review_color_allowed else gray is not False,
            reveal_seconds=min(
                reveal or settings.review_reveal_seconds, settings.review_reveal_max_seconds
            ),
            stretch_minutes=stretch,
            break_due=stretch >= settings.review_break_minutes,
        )

    def choose(
        self,
        reviewer: str,
        *,
        blur_px: int | None = None,
        grayscale: bool | None = None,
        reveal_seconds: int | None = None,
    ) -> View:
        """Set ``reviewer``'s own settings (those given), refused outside the
        bounds with a message that says them; audited."""
        settings = self.settings
        if blur_px is not None and not settings.review_blur_min_px <= blur_px <= 64:
            raise ReviewError(f"blur must be from {settings.review_blur_min_px} to 64 pixels")
        if grayscale is False and not settings.review_color_allowed:
            raise ReviewError("grayscale is required here (the setting review_color_allowed)")
        if reveal_seconds is not None and not 1 <= reveal_seconds <= (
            settings.review_reveal_max_seconds
        ):
            raise ReviewError(
                f"a reveal lasts from 1 to {settings.review_reveal_max_seconds} seconds"
            )
        with self.database.transaction() as session:
            row = own_row(session, reviewer)
            before = _chosen(row)
            if blur_px is not None:
                row.blur_px = blur_px
            if grayscale is not None:
                row.grayscale = grayscale
            if reveal_seconds is not None:
                row.reveal_seconds = reveal_seconds
            audit.record(session, "review.preferences", reviewer, before=before, after=_chosen(row))
        return self.view_of(reviewer)

    def take_break(self, reviewer: str) -> None:
        """End the reviewer's stretch now (they said they are taking a break)."""
        with self.database.transaction() as session:
            row = session.get(ReviewerPreference, reviewer, with_for_update=True)
            if row is not None:
                row.stretch_started_at = None
                row.last_active_at = None


def _chosen(row: ReviewerPreference) -> dict[str, object]:
    return {
        "blur_px": row.blur_px,
        "grayscale": row.grayscale,
        "reveal_seconds": row.reveal_seconds,
    }
