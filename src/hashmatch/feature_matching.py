"""The second stage's hits as matches, under the rules the first stage's follow.

    matches = with_local_features(matcher, result, matches, banks)

A query image whose pixels were kept (``HashRequest.feature_query``) is
searched in every bank that uses local features (:mod:`hashmatch.feature_banks`),
whatever the first stage found: a bank image the first stage matched keeps
that match, so the stage only adds the copies PDQ missed.  Its matches carry
``stage: "local_features"`` and the verified inlier count, the content's
own PDQ distance to the query (distances stay PDQ's, so a rule's
``max_distance`` is never met by a picture PDQ calls unlike), and obey:

* a bank's ``min_inliers``, else the library's default;
* disabled banks and content disabled until a later time do not match;
* when the query matches an allowlist bank, by its hashes or by local
  features in an allowlist that uses them, every match is suppressed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from hashmatch.feature_banks import FeatureHit
from hashmatch.hashing import FileHashes
from hashmatch.match_policy import MATCH_DETAIL_COLUMNS, Match, servable_metadata
from hashmatch.signals import get_signal_type
from hashmatch.signals.names import PDQ
from hashmatch.store import Bank, Content, ContentSignal
from hashmatch.store.models import as_utc, utcnow

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hashmatch.matching import Matcher

#: The ``stage`` of a second-stage match.
STAGE = "local_features"
#: A query whose PDQ was not computed is this far from every bank image.
UNKNOWN_DISTANCE = 256


def with_local_features(
    matcher: Matcher, result: FileHashes, found: list[Match], banks: Iterable[str] | None
) -> list[Match]:
    """``found`` (the first stage's matches) and the second stage's, under
    the banks' rules, allowlists applied to all."""
    if result.feature_pixels is None or not matcher.features:
        return found
    hits = matcher.features.query(result.feature_pixels)
    if not hits:
        return found
    only = set(banks) if banks else None
    details = _details(matcher, hits)
    seen = {(match.bank, match.content_id) for match in found}
    now = utcnow()
    extra: list[Match] = []
    allowlisted: set[str] = set()
    for hit in sorted(hits, key=lambda hit: -hit.inliers):
        row = details.get(hit.content_id)
        if row is None or not _counts(row, hit, now):
            continue  # removed since the matcher saw it, disabled, or too few inliers
        if row.kind == "allowlist":
            allowlisted.add(row.bank)  # in any bank, as the first stage's allowlists
        elif (only is None or row.bank in only) and (row.bank, hit.content_id) not in seen:
            seen.add((row.bank, hit.content_id))
            extra.append(_match(row, hit, result.signals.get(PDQ)))
    if not extra and not allowlisted:
        return found
    allowlisted.update(matcher.allowlisted(result))
    matches = [*found, *extra]
    if allowlisted:
        names = sorted(allowlisted | {name for match in found for name in match.suppressed_by})
        matches = [replace(match, suppressed=True, suppressed_by=names) for match in matches]
    return matches


def _counts(row: Any, hit: FeatureHit, now: Any) -> bool:
    """Whether a hit passes its bank's rules (not the allowlists')."""
    if hit.inliers < (row.min_inliers or _default_min_inliers()):
        return False
    disabled = row.disabled_until is not None and as_utc(row.disabled_until) > now
    return bool(row.bank_enabled) and not disabled


def _default_min_inliers() -> int:
    from hashmatch.features.matcher import MIN_INLIERS

    return MIN_INLIERS


def _match(row: Any, hit: FeatureHit, query_pdq: str | None) -> Match:
    distance = UNKNOWN_DISTANCE
    if query_pdq is not None and row.own_pdq is not None:
        distance = get_signal_type(PDQ).distance(query_pdq, row.own_pdq)
    return Match(
        row.bank,
        hit.content_id,
        PDQ,
        distance,
        None,
        list(row.bank_labels),
        list(row.content_labels),
        row.external_id,
        row.source,
        servable_metadata(row.source_metadata),
        stage=STAGE,
        inliers=hit.inliers,
    )


def _details(matcher: Matcher, hits: list[FeatureHit]) -> dict[int, Any]:
    """The content and bank behind each hit (plain rows, one statement)."""
    with matcher.database.single_statement() as connection:
        ids = sorted({hit.content_id for hit in hits})
        rows = connection.execute(_DETAILS, {"ids": ids}).all()
    return {row.content_id: row for row in rows}


_OWN_PDQ = (
    select(ContentSignal.value)
    .where(
        ContentSignal.content_id == Content.id,
        ContentSignal.signal_type == PDQ,
        ContentSignal.variant.is_(None),
    )
    .limit(1)
    .scalar_subquery()
)
_DETAILS = (
    select(
        *MATCH_DETAIL_COLUMNS,
        Bank.min_inliers,
        _OWN_PDQ.label("own_pdq"),
    )
    .join(Bank, Bank.id == Content.bank_id)
    .where(Content.id.in_(bindparam("ids", expanding=True)))
)
