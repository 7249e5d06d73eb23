"""Which index hits count as matches: the banks' rules, applied to hits.

    rules = BankRules(database)
    matches = rules.matches(hits, rules.hit_details(hits), only_banks=None)

Rules, in order:

* a bank's own threshold for a signal type applies, else the bank's
  threshold for the type's Hamming space (video frames follow a bank's PDQ
  threshold), else the type's default;
* disabled banks, and content disabled until a later time, do not match;
* an image's stored variant (a crop or small rotation, ``media/variants.py``)
  matches as its content, through the query as it is (not its rotations
  and flips: those with the variants match unrelated pictures), and only
  where the content's own hash did not match too;
* when the query also matches an allowlist bank, its matches are reported
  as suppressed (with the allowlist banks named), not as hits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import bindparam, select

from hashmatch.fieldlimits import MAX_JSON_DEPTH, deeper_than
from hashmatch.live_indexes import hamming_type, space_of
from hashmatch.pdq import DIHEDRAL_TRANSFORMS
from hashmatch.signals import get_signal_type, signal_types
from hashmatch.store import Bank, Content, ContentSignal, Database
from hashmatch.store.models import as_utc, utcnow

#: The name of the query as it is among its rotations and flips.
ORIGINAL = DIHEDRAL_TRANSFORMS[0]
#: How long the banks' thresholds are reused before being read again.
RULES_SECONDS = 1.0


@dataclass(frozen=True)
class Match:
    """One bank content that a query matched."""

    bank: str
    content_id: int
    signal_type: str
    distance: int
    #: For PDQ, which rotation or flip of the query matched.
    transform: str | None
    bank_labels: list[str]
    content_labels: list[str]
    external_id: str | None
    source: str | None
    source_metadata: dict[str, Any]
    suppressed: bool = False
    suppressed_by: list[str] = field(default_factory=list)
    #: A bank video's frame that matched (before matches are grouped per video).
    target_frame: int | None = None
    target_timestamp: float | None = None
    #: Video matches: shares of frames matched and the segments (video_matching).
    video: dict[str, Any] | None = None
    #: The bank image's stored variant that matched ("crop90", "rot-2"), if
    #: not its own hash.
    variant: str | None = None
    #: "cleaned" when only the query's cleaned image (border or caption band
    #: removed) matched, with what was removed in ``cleanup``.
    query: str | None = None
    cleanup: dict[str, Any] | None = None
    #: "local_features" for the second stage (with its verified ``inliers``);
    #: None for the hash indexes' matches (the JSON names the signal type).
    stage: str | None = None
    inliers: int | None = None

    def to_json(self) -> dict[str, Any]:
        record = {
            "bank": self.bank,
            "content_id": self.content_id,
            "signal_type": self.signal_type,
            "distance": self.distance,
            "transform": self.transform,
            "labels": self.bank_labels,
            "content_labels": self.content_labels,
            "external_id": self.external_id,
            "source": self.source,
            "source_metadata": self.source_metadata,
            "suppressed": self.suppressed,
            "stage": self.stage or self.signal_type,
        }
        if self.inliers is not None:
            record["inliers"] = self.inliers
        if self.suppressed:
            record["suppressed_by"] = self.suppressed_by
        if self.video is not None:
            record["video"] = self.video
        if self.variant is not None:
            record["variant"] = self.variant
        if self.query is not None:
            record["query"] = self.query
            record["cleanup"] = self.cleanup
        return record


@dataclass(frozen=True)
class Hit:
    """One bank signal an index found for a query, before the banks' rules."""

    signal_id: int
    signal_type: str
    distance: int
    transform: str | None


def servable_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Stored source metadata, or a note in its place when it nests deeper
    than may be stored today (written before the limits existed): one such
    content must not make every lookup that finds it fail to serialise.
    Only the depth is checked: this runs for every match of every lookup."""
    if metadata and deeper_than(metadata, MAX_JSON_DEPTH):
        reason = f"source_metadata is nested deeper than {MAX_JSON_DEPTH} levels"
        return {"hashmatch_unservable": reason}
    return dict(metadata)


def best_per_signal(hits: list[Hit]) -> list[Hit]:
    """One hit per bank signal: the closest transform of the query."""
    best: dict[int, Hit] = {}
    for hit in hits:
        if hit.signal_id not in best or hit.distance < best[hit.signal_id].distance:
            best[hit.signal_id] = hit
    return list(best.values())


def threshold(thresholds: dict[str, int], stored: str) -> int:
    """A bank's threshold for a signal type: its own, else its space's, else the default."""
    default = get_signal_type(stored).default_threshold
    space = space_of(stored)
    if space is not None and space != stored:
        default = thresholds.get(space, default)
    return int(thresholds.get(stored, default))


class BankRules:
    """The banks' thresholds (cached for ``RULES_SECONDS``: they change rarely,
    lookups constantly) and the rules that turn hits into matches."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._cached: tuple[float, dict[str, dict[str, int]], dict[str, int]] | None = None

    def _read(self) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
        cached = self._cached
        if cached is not None and time.monotonic() - cached[0] < RULES_SECONDS:
            return cached[1], cached[2]
        with self.database.reading() as session:
            rows = session.execute(select(Bank.name, Bank.thresholds)).all()
        by_bank: dict[str, dict[str, int]] = {str(row[0]): dict(row[1]) for row in rows}
        radius: dict[str, int] = {}
        for name in signal_types():
            signal_type = hamming_type(name)
            if signal_type is None:
                continue
            largest = max(
                [signal_type.default_threshold]
                + [threshold(thresholds, name) for thresholds in by_bank.values()]
            )
            radius[signal_type.space] = max(radius.get(signal_type.space, 0), largest)
        self._cached = (time.monotonic(), by_bank, radius)
        return by_bank, radius

    def radius(self, space: str) -> int:
        """The largest threshold any bank uses for a type in ``space``."""
        return self._read()[1].get(space, 0)

    def thresholds(self, bank: str) -> dict[str, int]:
        """A bank's own thresholds and shares (empty for an unknown bank)."""
        return self._read()[0].get(bank, {})

    def hit_details(self, hits: list[Hit]) -> dict[int, Any]:
        """The content and bank behind each hit's signal id (plain rows, not
        ORM objects: this read is on every lookup that finds something)."""
        if not hits:
            return {}
        with self.database.single_statement() as connection:
            ids = sorted({hit.signal_id for hit in hits})
            rows = connection.execute(_HIT_DETAILS, {"ids": ids}).all()
        return {row.signal_id: row for row in rows}

    @staticmethod
    def matches(
        hits: list[Hit],
        details: dict[int, Any],
        only_banks: set[str] | None,
        *,
        include_disabled: bool = False,
    ) -> list[Match]:
        """Hits that count as matches under the banks' rules, allowlists applied."""
        now = utcnow()
        matches: list[Match] = []
        allowlisted: list[str] = []
        for hit in hits:
            row = details.get(hit.signal_id)
            if row is None or not _counts(hit, row, now, include_disabled):
                continue  # removed since the index saw it, or too far, or disabled
            image_variant = row.variant if row.frame is None else None
            if row.kind == "allowlist":
                allowlisted.append(row.bank)
                continue
            if only_banks is not None and row.bank not in only_banks:
                continue
            matches.append(
                Match(
                    row.bank,
                    row.content_id,
                    row.stored_type,
                    hit.distance,
                    hit.transform,
                    list(row.bank_labels),
                    list(row.content_labels),
                    row.external_id,
                    row.source,
                    servable_metadata(row.source_metadata),
                    target_frame=row.frame,
                    target_timestamp=row.timestamp,
                    variant=image_variant,
                )
            )
        matches = own_hash_first(matches)
        if allowlisted:
            names = sorted(set(allowlisted))
            matches = [replace(match, suppressed=True, suppressed_by=names) for match in matches]
        return sorted(matches, key=lambda m: (m.distance, m.bank, m.content_id, m.signal_type))

    @staticmethod
    def allowlists(hits: list[Hit], details: dict[int, Any]) -> list[str]:
        """The allowlist banks that hits match under the banks' rules."""
        now = utcnow()
        return sorted(
            {
                row.bank
                for hit in hits
                if (row := details.get(hit.signal_id)) is not None
                and row.kind == "allowlist"
                and _counts(hit, row, now, include_disabled=False)
            }
        )


def _counts(hit: Hit, row: Any, now: Any, include_disabled: bool) -> bool:
    """Whether a hit passes its bank's threshold and switches (an image's
    variant through the query as it is only; disabled banks and content
    only when asked)."""
    if hit.distance > threshold(row.thresholds, row.stored_type):
        return False
    image_variant = row.variant if row.frame is None else None
    if image_variant is not None and hit.transform not in (None, ORIGINAL):
        return False
    disabled = row.disabled_until is not None and as_utc(row.disabled_until) > now
    return include_disabled or (row.bank_enabled and not disabled)


def own_hash_first(matches: list[Match]) -> list[Match]:
    """One match per bank image and signal type: its own hash's when that
    matched, else its closest stored variant's (video frames are grouped
    per video later, in ``video_matching``)."""
    kept: dict[tuple[str, int, str], Match] = {}
    frames: list[Match] = []
    for match in matches:
        if match.target_frame is not None:
            frames.append(match)
            continue
        key = (match.bank, match.content_id, match.signal_type)
        held = kept.get(key)
        if held is None or _rank(match) < _rank(held):
            kept[key] = match
    return [*kept.values(), *frames]


def _rank(match: Match) -> tuple[bool, int]:
    return (match.variant is not None, match.distance)


# The content and bank columns a match is judged and described by; the
# local-feature matcher selects the same ones.
MATCH_DETAIL_COLUMNS = (
    Content.id.label("content_id"),
    Content.disabled_until,
    Content.labels.label("content_labels"),
    Content.external_id,
    Content.source,
    Content.source_metadata,
    Bank.name.label("bank"),
    Bank.enabled.label("bank_enabled"),
    Bank.kind,
    Bank.labels.label("bank_labels"),
)
_HIT_DETAILS = (
    select(
        ContentSignal.id.label("signal_id"),
        ContentSignal.signal_type.label("stored_type"),
        ContentSignal.frame,
        ContentSignal.variant,
        ContentSignal.timestamp,
        *MATCH_DETAIL_COLUMNS,
        Bank.thresholds,
    )
    .join(Content, Content.id == ContentSignal.content_id)
    .join(Bank, Bank.id == Content.bank_id)
    # One statement object, so SQLAlchemy computes its cache key once.
    .where(ContentSignal.id.in_(bindparam("ids", expanding=True)))
)
