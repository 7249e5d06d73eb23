"""What a bank accepts: names, kinds, labels and thresholds, checked before any write."""

from __future__ import annotations

import re
from collections.abc import Iterable

from hashmatch.errors import BankError
from hashmatch.fieldlimits import (
    DESCRIPTION_CHARS,
    MAX_ID,
    check_content_fields,
    check_text,
)
from hashmatch.hashlists import Entry
from hashmatch.signals import get_signal_type
from hashmatch.signals.base import HammingSignalType
from hashmatch.video_matching import share_settings

BANK_KINDS = ("match", "allowlist")
#: The industry classification (Tech Coalition / NCMEC categories).
CLASSIFICATIONS = ("A1", "A2", "B1", "B2")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise BankError(
            f"invalid bank name {name!r}: 1-100 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_kind(kind: str) -> str:
    if kind not in BANK_KINDS:
        raise BankError(f"bank kind must be one of {', '.join(BANK_KINDS)}, got {kind!r}")
    return kind


def check_labels(labels: Iterable[str]) -> list[str]:
    """Free tags, with the classification codes written in capitals."""
    out = []
    for label in labels:
        text = label.strip()
        if not text or len(text) > 100 or "," in text or ";" in text or "\0" in text:
            raise BankError(f"invalid label {label!r}: 1-100 characters, no commas or semicolons")
        out.append(text.upper() if text.upper() in CLASSIFICATIONS else text)
    return sorted(set(out))


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_thresholds(thresholds: dict[str, int]) -> dict[str, int]:
    """Distances per signal type, bounded by the type (a Hamming type: 0 to
    half its bits; an exact type: 0), and video shares in percent."""
    shares = share_settings()
    out = {}
    for name, value in thresholds.items():
        if name in shares:
            if not _whole(value) or not 0 <= value <= 100:
                raise BankError(f"{name} is a percentage: 0-100, got {value!r}")
            out[name] = value
            continue
        signal_type = get_signal_type(name)
        if isinstance(signal_type, HammingSignalType):
            limit = signal_type.max_threshold
            if not _whole(value) or not 0 <= value <= limit:
                raise BankError(
                    f"threshold for {name} must be a whole number 0-{limit} (two unrelated "
                    f"{signal_type.bits}-bit hashes are about {signal_type.bits // 2} bits "
                    f"apart), got {value!r}"
                )
        elif value != 0 or not _whole(value):
            raise BankError(f"{name} is an exact hash: its threshold can only be 0")
        out[name] = value
    return out


#: The fewest verified inliers a bank may ask of a local-features match: the
#: worst unrelated pair measured reached 4 (docs/robust-matching.md).
LOWEST_MIN_INLIERS = 8
#: The most it may ask: a bank image stores at most 200 keypoints.
HIGHEST_MIN_INLIERS = 200


def check_min_inliers(value: int | None) -> int | None:
    """A bank's minimum inlier count for local-features matches (None: the default)."""
    if value is not None and (
        not _whole(value) or not LOWEST_MIN_INLIERS <= value <= HIGHEST_MIN_INLIERS
    ):
        raise BankError(
            f"min_inliers must be a whole number {LOWEST_MIN_INLIERS}-{HIGHEST_MIN_INLIERS} "
            f"(unrelated images reach a few inliers), got {value!r}"
        )
    return value


def check_description(description: str) -> str:
    return check_text("description", description, max_chars=DESCRIPTION_CHARS)


def check_entries(entries: list[Entry]) -> list[Entry]:
    """Entries whose fields a database stores as given (else InvalidFieldError);
    empty fields, most of a big list, cost nothing."""
    for entry in entries:
        if entry.external_id is not None or entry.note or entry.labels or entry.source_metadata:
            check_content_fields(
                external_id=entry.external_id,
                note=entry.note or None,
                labels=entry.labels or None,
                source_metadata=entry.source_metadata or None,
            )
    return entries


def valid_ids(ids: Iterable[int]) -> list[int]:
    """The ids a row could have (others are simply not there)."""
    return [value for value in ids if 0 < value <= MAX_ID]
