"""What bank operations return: banks, contents and import outcomes as plain records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hashmatch.hashlists import FRAMES
from hashmatch.signals.base import FrameHash
from hashmatch.store import ContentSignal
from hashmatch.store.models import utcnow


@dataclass(frozen=True)
class BankInfo:
    name: str
    description: str
    enabled: bool
    kind: str
    labels: list[str]
    thresholds: dict[str, int]
    contents: int
    created_at: datetime
    #: Whether images added by hashing store their crops and rotations too.
    image_variants: bool = False
    #: Variant hashes stored for the bank's images (not contents: they
    #: match as their image), to see what the variants cost.
    variant_hashes: int = 0
    #: Whether images added store local features, and queries run the second stage here.
    local_features: bool = False
    #: Verified inliers a local-features match needs (None: the library's default).
    min_inliers: int | None = None
    #: Images with stored local features, and their bytes (the second stage's cost).
    feature_images: int = 0
    feature_bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "enabled": self.enabled,
            "kind": self.kind,
            "labels": self.labels,
            "thresholds": self.thresholds,
            "contents": self.contents,
            "created_at": self.created_at.isoformat(),
            "image_variants": self.image_variants,
            "variant_hashes": self.variant_hashes,
            "local_features": self.local_features,
            "min_inliers": self.min_inliers,
            "feature_images": self.feature_images,
            "feature_bytes": self.feature_bytes,
        }


@dataclass(frozen=True)
class ContentInfo:
    """One content of a bank, with its signals."""

    id: int
    bank: str
    signals: dict[str, str]
    external_id: str | None
    labels: list[str]
    note: str
    source: str | None
    source_metadata: dict[str, Any]
    created_at: datetime
    disabled_until: datetime | None
    #: A video's frames (vPDQ), in frame order.
    frames: list[FrameHash] = field(default_factory=list)

    def enabled(self, now: datetime | None = None) -> bool:
        return self.disabled_until is None or self.disabled_until <= (now or utcnow())

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "bank": self.bank,
            "signals": self.signals,
            "external_id": self.external_id,
            "labels": self.labels,
            "note": self.note,
            "source": self.source,
            "source_metadata": self.source_metadata,
            "created_at": self.created_at.isoformat(),
            "disabled_until": self.disabled_until.isoformat() if self.disabled_until else None,
            "enabled": self.enabled(),
            **({FRAMES: [frame.to_json() for frame in self.frames]} if self.frames else {}),
        }


@dataclass(frozen=True)
class ImportResult:
    added: int
    skipped: int
    #: Entries with a hash under its type's quality floor, where the list says.
    low_quality: int = 0

    def to_json(self) -> dict[str, int]:
        record = {"added": self.added, "skipped": self.skipped}
        if self.low_quality:
            record["low_quality"] = self.low_quality
        return record


def add_signal(signals: dict[str, str], frames: list[FrameHash], row: ContentSignal) -> None:
    """Put a stored signal where it belongs: a video frame, or one of the
    signals (an image's variant is neither: it is derived, not the content's own)."""
    if row.signal_type == FRAMES:
        frames.append(
            FrameHash(
                row.frame or 0,
                row.quality or 0,
                row.value,
                row.timestamp or 0.0,
                (),
                row.variant or "",
            )
        )
    elif not row.variant:
        signals[row.signal_type] = row.value
