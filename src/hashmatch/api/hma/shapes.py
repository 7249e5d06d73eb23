"""HMA 2.0's names and JSON shapes, and how hashmatch's map onto them.

HMA names its signal types ``pdq`` and ``video_md5`` (and ``vpdq`` with its
video extension) and its content types ``photo`` and ``video``; hashmatch's
``md5`` is HMA's ``video_md5``.  A vPDQ signal is, as in threatexchange's
extension, a JSON list of ``"<pdq hex>,<quality>,<timestamp>"`` strings.  A bank
is ``{"matching_enabled_ratio": 1.0, "name": "..."}`` (hashmatch banks are on
or off, so the ratio is 1.0 or 0.0), and a content's ``disable_until_ts`` is
0 (disabled), 1 (enabled) or a Unix time.  docs/research/hma-2.0-api.md has
the shapes as HMA's server gives them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from hashmatch.api.errors import ApiError
from hashmatch.banks import ContentInfo
from hashmatch.hashing import FileHashes
from hashmatch.matching import Match
from hashmatch.signals.base import FrameHash
from hashmatch.signals.vpdq_compact import compact_frames

#: HMA signal type name -> hashmatch signal type name.
SIGNAL_TYPES = {"pdq": "pdq", "video_md5": "md5", "vpdq": "vpdq"}
HMA_NAMES = {ours: theirs for theirs, ours in SIGNAL_TYPES.items()}
#: HMA content type -> the HMA signal types computed for it.
CONTENT_TYPES = {"photo": ("pdq",), "video": ("video_md5", "vpdq")}
BANK_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
#: A stored ``disabled_until`` this far off is HMA's "disabled" (0).
FOREVER = datetime(9999, 12, 31, tzinfo=UTC)
NOTE_LIMIT = 255


def bad_request(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


NOT_JSON = (
    "Did not attempt to load JSON data because the request Content-Type was not 'application/json'."
)


async def json_object(request: Request, *, required: bool, not_an_object: str) -> dict[str, Any]:
    """The request's JSON object body, parsed in the thread pool; without a
    JSON Content-Type, 415 if ``required`` (as HMA's ``request.get_json()``),
    else an empty one."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        if required:
            raise ApiError(415, "unsupported_media_type", NOT_JSON)
        return {}
    raw = await request.body()
    try:
        body = await run_in_threadpool(json.loads, raw)
    except RecursionError:
        raise bad_request("The request body is nested too deeply") from None
    except ValueError:
        raise bad_request("The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request(not_an_object)
    return body


def json_body(
    *, required: bool, not_an_object: str
) -> Callable[[Request], Awaitable[dict[str, Any]]]:
    """A dependency giving :func:`json_object`, for routes that are plain
    functions (run in the thread pool) but read their JSON body themselves."""

    async def body(request: Request) -> dict[str, Any]:
        return await json_object(request, required=required, not_an_object=not_an_object)

    return body


def json_body_doc(description: str, values: dict[str, Any], example: Any) -> dict[str, Any]:
    """OpenAPI for a route that reads its JSON object body itself (as HMA's do)."""
    schema = {
        "type": "object",
        "description": description,
        "additionalProperties": values,
        "example": example,
    }
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def ours(signal_type: str) -> str:
    """hashmatch's name for an HMA signal type (400 for one HMA does not have)."""
    if signal_type not in SIGNAL_TYPES:
        raise bad_request(f"No such SignalType '{signal_type}'")
    return SIGNAL_TYPES[signal_type]


def check_bank_name(name: str) -> None:
    if not BANK_NAME.fullmatch(name):
        raise bad_request("Bank names must be UPPER_WITH_UNDERSCORE")


def enabled_from_ratio(ratio: float) -> bool:
    if ratio not in (0, 1):
        raise bad_request("hashmatch banks are either on or off: enabled_ratio must be 0.0 or 1.0")
    return ratio == 1


def bank_json(name: str, enabled: bool) -> dict[str, Any]:
    return {"matching_enabled_ratio": 1.0 if enabled else 0.0, "name": name}


def disable_until_ts(content: ContentInfo) -> int:
    until = content.disabled_until
    if until is None:
        return 1
    return 0 if until >= FOREVER else int(until.timestamp())


def disabled_until(value: int) -> datetime | None:
    """The stored time for an HMA ``disable_until_ts``."""
    if value == 0:
        return FOREVER
    return None if value == 1 else datetime.fromtimestamp(value, UTC)


def signals_json(signals: dict[str, str], frames: list[FrameHash] | None = None) -> dict[str, str]:
    """A content's signals under HMA's names (types HMA lacks are left out)."""
    named = {HMA_NAMES[kind]: value for kind, value in signals.items() if kind in HMA_NAMES}
    if frames:
        named["vpdq"] = compact_frames(frames)
    return named


def user_metadata(content: ContentInfo) -> dict[str, Any] | None:
    uri = content.source_metadata.get("content_uri")
    extra = content.source_metadata.get("json")
    if content.external_id is None and uri is None and extra is None:
        return None
    return {"content_id": content.external_id, "content_uri": uri, "json": extra}


def note_or_none(note: str) -> str | None:
    return note or None


def distance_text(match: Match) -> str:
    """HMA prints distances as strings: "-" for exact hash types, and the
    query and compared shares for vPDQ ("100%[57%]")."""
    if match.signal_type == "vpdq" and match.video and "query_share" in match.video:
        query = match.video["query_share"] * 100
        target = match.video.get("target_share", 0.0) * 100
        return f"{query:.0f}%[{target:.0f}%]"
    return str(match.distance) if match.signal_type in ("pdq", "vpdq") else "-"


def with_not_computed(answer: dict[str, Any], result: FileHashes) -> dict[str, Any]:
    """``answer`` with ``not_computed`` (HMA signal type -> why) when a video's
    vPDQ could not be computed and its exact hashes stand alone; as HMA's
    answers have no such key, it is there only then."""
    missing = {HMA_NAMES.get(name, name): why for name, why in result.not_computed.items()}
    return {**answer, "not_computed": missing} if missing else answer


def by_bank(matches: list[Match]) -> dict[str, list[dict[str, Any]]]:
    """HMA's lookup result: bank name -> its matching content.  Matches an
    allowlist suppresses are left out (HMA's callers act on whatever is here)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for match in matches:
        if not match.suppressed:
            grouped.setdefault(match.bank, []).append(
                {"bank_content_id": match.content_id, "distance": distance_text(match)}
            )
    return grouped
