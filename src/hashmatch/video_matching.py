"""Matching video: shares of matched frames, and the time segments that match.

A query video matches a bank video when the share of its frames (good
enough to match) that have a bank frame within the threshold reaches the
query threshold, and the share of the bank video's frames matched reaches
the target threshold (defaults 80% and 0%; a bank may set
``<type>_query_share`` and ``<type>_target_share``, in percent, e.g.
``vpdq_query_share``).  Bank images are found inside a query video (with the
times they appear), and an image query finds the bank videos that contain it
(with the times in those videos).

    matches = match_video(matcher, "vpdq", frames, banks=None)
    matches[0].video == {"query_share": 0.93, "target_share": 0.41, "segments": [...]}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from hashmatch.match_policy import Match
from hashmatch.signals import get_signal_type, signal_types
from hashmatch.signals.base import FrameHash, VideoSignalType

QUERY_SHARE = "query_share"
TARGET_SHARE = "target_share"
DEFAULT_SHARES = {QUERY_SHARE: 80, TARGET_SHARE: 0}


class FrameMatcher(Protocol):
    """What video matching needs of a matcher (:class:`hashmatch.matching.Matcher`)."""

    def match_frames(
        self, signal_type: str, frames: list[FrameHash], *, banks: Iterable[str] | None = None
    ) -> list[list[Match]]: ...

    def frame_counts(self, signal_type: str, content_ids: list[int]) -> dict[int, int]: ...

    def video_shares(self, signal_type: str, bank: str) -> dict[str, int]: ...


def is_video_type(name: str) -> bool:
    return name in signal_types() and isinstance(get_signal_type(name), VideoSignalType)


def share_settings() -> dict[str, int]:
    """Every bank setting of video shares (``<type>_query_share``...) with its default."""
    return {
        f"{name}_{share}": default
        for name in signal_types()
        if is_video_type(name)
        for share, default in DEFAULT_SHARES.items()
    }


def video_shares(signal_type: str, thresholds: dict[str, int]) -> dict[str, int]:
    """A bank's shares for a video type (from its thresholds), by share name."""
    return {
        share: int(thresholds.get(f"{signal_type}_{share}", default))
        for share, default in DEFAULT_SHARES.items()
    }


@dataclass(frozen=True)
class Segment:
    """A stretch of the query that matches, and where it is in the bank video
    (target times are None when the bank content is an image)."""

    query_start: float
    query_end: float
    target_start: float | None
    target_end: float | None

    def to_json(self) -> dict[str, float | None]:
        return {
            "query_start": self.query_start,
            "query_end": self.query_end,
            "target_start": self.target_start,
            "target_end": self.target_end,
        }


def match_video(
    matcher: FrameMatcher,
    signal_type: str,
    frames: list[FrameHash],
    *,
    banks: Iterable[str] | None = None,
) -> list[Match]:
    """The bank videos and images a query video matches, one match per content."""
    floor = getattr(get_signal_type(signal_type), "min_match_quality", 0)
    usable = [frame for frame in frames if frame.quality >= floor]
    if not usable:
        return []
    per_frame = matcher.match_frames(signal_type, usable, banks=banks)
    found: dict[tuple[str, int], list[tuple[int, Match]]] = {}
    for index, matches in enumerate(per_frame):
        for match in matches:
            found.setdefault((match.bank, match.content_id), []).append((index, match))
    video_ids = [
        content for (_, content), hits in found.items() if hits[0][1].signal_type == signal_type
    ]
    frame_counts = matcher.frame_counts(signal_type, video_ids)
    results = []
    for hits in found.values():
        first = hits[0][1]
        matched = sorted({index for index, _ in hits})
        query_share = len(matched) / len(usable)
        segments = _segments(usable, hits)
        best = min(hits, key=lambda hit: hit[1].distance)[1]
        video: dict[str, Any] = {"query_share": round(query_share, 4)}
        if first.signal_type == signal_type:
            target_frames = {match.target_frame for _, match in hits}
            target_share = len(target_frames) / max(frame_counts.get(first.content_id, 1), 1)
            shares = matcher.video_shares(signal_type, first.bank)
            if query_share * 100 < shares[QUERY_SHARE] or target_share * 100 < shares[TARGET_SHARE]:
                continue
            video["target_share"] = round(min(target_share, 1.0), 4)
        video["segments"] = [segment.to_json() for segment in segments]
        results.append(replace(best, video=video, target_frame=None, target_timestamp=None))
    return sorted(results, key=_order)


def _order(match: Match) -> tuple[float, int, str, int]:
    share = match.video["query_share"] if match.video else 0.0
    return (-share, match.distance, match.bank, match.content_id)


#: How far the time in the bank video may drift from the time in the query
#: within one segment (frame sampling and re-timing move it a little).
SEGMENT_SLACK_SECONDS = 1.5


def _segments(usable: list[FrameHash], hits: list[tuple[int, Match]]) -> list[Segment]:
    """Runs of consecutive matched query frames whose bank times advance with
    the query's (a cut or a reordering starts a new segment)."""
    targets: dict[int, list[float]] = {}
    for index, match in hits:
        times = targets.setdefault(index, [])
        if match.target_timestamp is not None:
            times.append(match.target_timestamp)
    runs: list[list[tuple[int, float | None]]] = []
    for index in sorted(targets):
        query_time = usable[index].timestamp
        candidates = sorted(targets[index])
        if runs and runs[-1][-1][0] == index - 1:
            last_index, last_target = runs[-1][-1]
            if last_target is None and not candidates:
                runs[-1].append((index, None))
                continue
            expected = (last_target or 0.0) + query_time - usable[last_index].timestamp
            near = [t for t in candidates if abs(t - expected) <= SEGMENT_SLACK_SECONDS]
            if last_target is not None and near:
                runs[-1].append((index, min(near, key=lambda t: abs(t - expected))))
                continue
        runs.append([(index, candidates[0] if candidates else None)])
    segments = []
    for run in runs:
        times = [time for _, time in run if time is not None]
        segments.append(
            Segment(
                usable[run[0][0]].timestamp,
                usable[run[-1][0]].timestamp,
                min(times) if times else None,
                max(times) if times else None,
            )
        )
    return segments


def collapse_frames(matches: list[Match]) -> list[Match]:
    """An image query's matches with one per bank video (its closest frame),
    listing the times in the video where the image was found."""
    kept: list[Match] = []
    videos: dict[tuple[str, int], int] = {}
    times_of: dict[int, list[float]] = {}
    for match in matches:
        if not is_video_type(match.signal_type):
            kept.append(match)
            continue
        key = (match.bank, match.content_id)
        time = match.target_timestamp
        if key not in videos:
            videos[key] = len(kept)
            kept.append(match)
        position = videos[key]
        times_of.setdefault(position, []).extend([] if time is None else [time])
        if match.distance < kept[position].distance:
            kept[position] = match
    for position, times in times_of.items():
        kept[position] = replace(
            kept[position],
            video={"target_timestamps": sorted(times)},
            target_frame=None,
            target_timestamp=None,
        )
    return kept
