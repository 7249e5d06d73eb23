"""The second stage in memory: one :class:`~hashmatch.features.LocalFeatureMatcher`
per bank that uses local features, kept current from the change log.

    banks = FeatureBanks(database)
    banks.refresh()                        # follow the log and the banks' settings
    banks.query(pixels)                    # [FeatureHit(bank_id, content_id, inliers)]

A bank image's features row is written in the transaction that adds its
signals (``banks/writes.py``), so a change-log "add" finds it; removals are
logged as signal ids only, so each bank image is known here by its first
signal id too (content is removed whole: every signal of it goes).  Bank
settings are not in the log: each refresh reads the banks that use the stage
in the same snapshot as the log's end, loads a bank newly turned on from its
stored rows (decoded, never extracted again) and drops one turned off.  No
refresh rebuilds a bank that stays on.

Matchers keep hits from :data:`~hashmatch.banks.checks.LOWEST_MIN_INLIERS`
up; each bank's own ``min_inliers`` is applied with the other rules
(``feature_matching.py``), so changing it needs no reload.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from hashmatch.banks.checks import LOWEST_MIN_INLIERS
from hashmatch.store import Bank, Change, ContentSignal, Database
from hashmatch.store.changelog import latest_seq
from hashmatch.store.models import ContentFeatures

if TYPE_CHECKING:
    import numpy as np

    from hashmatch.features import LocalFeatureMatcher

#: Content ids looked up per statement.
LOOKUP_BATCH = 2_000


class FeatureHit(NamedTuple):
    """A bank image the second stage verified, before the banks' rules."""

    bank_id: int
    content_id: int
    inliers: int


@dataclass
class _Loaded:
    """One bank's matcher, and its images by first signal id (for removals)."""

    name: str
    matcher: LocalFeatureMatcher
    by_signal: dict[int, int] = field(default_factory=dict)
    #: Queries answered and the seconds they took (the stage's cost, per process).
    queries: int = 0
    seconds: float = 0.0


class FeatureBanks:
    """Every local-features bank's images, matchable by an image query."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._lock = threading.Lock()
        self._banks: dict[int, _Loaded] = {}
        self._seq = 0
        self.refresh()

    def __bool__(self) -> bool:
        """Whether any bank uses the stage (else queries need no pixels)."""
        return bool(self._banks)

    # -- following the log -------------------------------------------------------

    def refresh(self) -> int:
        """Follow the banks' settings and the log's changes since the last
        refresh; how many bank images were added or removed."""
        with self._lock, self.database.reading(consistent=True) as session:
            enabled = dict(
                session.execute(select(Bank.id, Bank.name).where(Bank.local_features)).all()
            )
            if not enabled and not self._banks:
                return 0  # no bank uses the stage: no log to follow (one turned on loads whole)
            upto = latest_seq(session)
            for bank_id in set(self._banks) - set(enabled):
                del self._banks[bank_id]
            for bank_id, loaded in self._banks.items():
                loaded.name = enabled[bank_id]  # renames
            changed = 0
            if self._banks and upto > self._seq:
                changed += self._removed(session, self._seq, upto)
                changed += self._added(session, self._seq, upto)
            for bank_id in set(enabled) - set(self._banks):
                loaded = _Loaded(enabled[bank_id], _new_matcher())
                rows = session.execute(_FEATURES.where(ContentFeatures.bank_id == bank_id))
                changed += _index(loaded, rows)
                self._banks[bank_id] = loaded  # whole: queries never see it half loaded
            self._seq = upto
        return changed

    def _added(self, session: Session, after: int, upto: int) -> int:
        rows = session.execute(_ADDED, {"after": after, "upto": upto, "banks": list(self._banks)})
        added = 0
        for bank_id, group in _by_bank(rows).items():
            added += _index(self._banks[bank_id], group)
        return added

    def _removed(self, session: Session, after: int, upto: int) -> int:
        """Drop the images whose first signal the window removed (checked:
        an image whose features row is still there is kept, by another id)."""
        runs = session.execute(
            select(Change.signal_id, Change.last_signal_id).where(
                Change.seq > after, Change.seq <= upto, Change.op == "remove"
            )
        ).all()
        if not runs:
            return 0
        gone: list[tuple[_Loaded, int, int]] = []
        for loaded in self._banks.values():
            for first, last in runs:
                if last - first + 1 > len(loaded.by_signal):
                    keys = [key for key in loaded.by_signal if first <= key <= last]
                else:
                    keys = [key for key in range(first, last + 1) if key in loaded.by_signal]
                gone += [(loaded, key, loaded.by_signal[key]) for key in keys]
        kept = _still_stored(session, [content_id for _, _, content_id in gone])
        removed = 0
        for loaded, key, content_id in gone:
            del loaded.by_signal[key]
            remaining = kept.get(content_id)
            if remaining is not None:
                loaded.by_signal[remaining] = content_id
            else:
                loaded.matcher.remove(content_id)
                removed += 1
        return removed

    # -- querying ----------------------------------------------------------------

    def query(self, pixels: np.ndarray) -> list[FeatureHit]:
        """Bank images the query's local features match, with their verified inliers."""
        hits: list[FeatureHit] = []
        banks = list(self._banks.items())
        if not banks:
            return hits
        from hashmatch.features import QueryFeatures  # loaded with the first matcher

        views = QueryFeatures(pixels)  # one extraction, whatever the number of banks
        for bank_id, loaded in banks:
            started = time.perf_counter()
            found = loaded.matcher.query(views)
            loaded.seconds += time.perf_counter() - started
            loaded.queries += 1
            # The matcher holds content ids (ints) as its keys.
            hits += [FeatureHit(bank_id, cast(int, key), inliers) for key, inliers in found]
        return hits

    def status(self) -> dict[str, dict[str, Any]]:
        """Per bank: images loaded, queries answered, and their mean time."""
        return {
            loaded.name: {
                "images": len(loaded.matcher),
                "queries": loaded.queries,
                "mean_query_ms": round(1000 * loaded.seconds / loaded.queries, 2)
                if loaded.queries
                else None,
            }
            for loaded in list(self._banks.values())
        }


def _new_matcher() -> LocalFeatureMatcher:
    # OpenCV takes a quarter of a second to load: only once a bank uses it.
    from hashmatch.features import LocalFeatureMatcher

    return LocalFeatureMatcher(min_inliers=LOWEST_MIN_INLIERS)


def _index(loaded: _Loaded, rows: Any) -> int:
    count = 0
    for content_id, _, blob, first_signal in rows:
        if first_signal is None:
            continue  # its signals were removed in the same window
        loaded.matcher.add_stored(int(content_id), bytes(blob))
        loaded.by_signal[int(first_signal)] = int(content_id)
        count += 1
    return count


def _by_bank(rows: Any) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(int(row[1]), []).append(row)
    return grouped


def _still_stored(session: Session, content_ids: list[int]) -> dict[int, int | None]:
    """Of these images, those whose features row is still there, with their
    first remaining signal id (None: no signal left)."""
    found: dict[int, int | None] = {}
    for start in range(0, len(content_ids), LOOKUP_BATCH):
        chunk = content_ids[start : start + LOOKUP_BATCH]
        rows = session.execute(
            select(ContentFeatures.content_id, _FIRST_SIGNAL).where(
                ContentFeatures.content_id.in_(chunk)
            )
        )
        found.update((int(row[0]), None if row[1] is None else int(row[1])) for row in rows)
    return found


_FIRST_SIGNAL = (
    select(func.min(ContentSignal.id))
    .where(ContentSignal.content_id == ContentFeatures.content_id)
    .scalar_subquery()
)
_FEATURES = select(
    ContentFeatures.content_id,
    ContentFeatures.bank_id,
    ContentFeatures.features,
    _FIRST_SIGNAL,
)
# The features of the content whose signals the window added, in the banks
# that use the stage (a hash list imported elsewhere costs a look at its
# signals' bank only).  CROSS JOIN: SQLite reads the few log entries first
# and looks their ids up (see store/changelog.py).
_ADDED = text(
    "SELECT f.content_id, f.bank_id, f.features, "
    "(SELECT min(s2.id) FROM content_signals AS s2 WHERE s2.content_id = f.content_id) "
    "FROM content_features AS f WHERE f.content_id IN ("
    "SELECT s.content_id FROM changes AS c CROSS JOIN content_signals AS s "
    "WHERE c.seq > :after AND c.seq <= :upto AND c.op = 'add' "
    "AND s.id BETWEEN c.signal_id AND c.last_signal_id AND s.bank_id IN :banks)"
).bindparams(bindparam("banks", expanding=True))
