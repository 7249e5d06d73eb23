"""The JSON the ``/v1`` and ``/status`` routes answer with, as typed models.

    @router.get("/lookup", response_model=Matches)

Routes build plain dicts (the library's ``to_json``); these models check
them on the way out and describe them in the OpenAPI document.  They are
pydantic-validated ``TypedDict``s rather than ``BaseModel``s so that a key
the API leaves out when it does not apply (``suppressed_by``, ``video``,
``pdq_quality``) is documented as optional, not as a null the API never
sends, and each answer keeps exactly the keys the route gave.  A key that a
model does not list is an error (a 500, caught by the API tests), not
silently dropped: change the shape here first.
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

EXACT = with_config(ConfigDict(extra="forbid"))

# -- hashes ----------------------------------------------------------------------


@EXACT
class Frame(TypedDict):
    """One sampled video frame's hash."""

    frame: int
    quality: int
    hash: str
    timestamp: Annotated[float, Field(description="Seconds into the video.")]
    dihedral: NotRequired[Annotated[list[str], Field(description="With dihedral=true.")]]
    variant: NotRequired[Annotated[str, Field(description='A cropped copy ("crop5").')]]


@EXACT
class VideoInfo(TypedDict):
    width: int
    height: int
    fps: float
    duration_seconds: float | None
    rotation: int
    codec: str


@with_config(ConfigDict(extra="allow"))
class FileSignals(TypedDict):
    """A file's signals.  Besides the keys listed, each perceptual type has
    ``<type>_quality`` and each video type its frames under its name, as pdq
    and vpdq do."""

    signals: Annotated[dict[str, str], Field(description="Signal type -> hash.")]
    pdq_quality: NotRequired[Annotated[int, Field(description="0-100; under 50 does not match.")]]
    vpdq: NotRequired[list[Frame]]
    video: NotRequired[VideoInfo]
    not_computed: NotRequired[
        Annotated[dict[str, str], Field(description="Perceptual types not computed, and why.")]
    ]


@with_config(ConfigDict(extra="allow"))
class Hashes(FileSignals):
    """A file's signals; with dihedral, ``<type>_dihedral`` for each type that has them."""

    pdq_dihedral: NotRequired[
        Annotated[list[str], Field(description="The 8 rotations and flips, original first.")]
    ]


# -- matches ---------------------------------------------------------------------


@EXACT
class Segment(TypedDict):
    query_start: float
    query_end: float
    target_start: Annotated[float | None, Field(description="None: the bank content is an image.")]
    target_end: float | None


@EXACT
class VideoMatch(TypedDict, total=False):
    """Shares of frames matched and the matching stretches (a video query),
    or the times in a bank video where an image query was found."""

    query_share: float
    target_share: float
    segments: list[Segment]
    target_timestamps: list[float]


@EXACT
class Match(TypedDict):
    bank: str
    content_id: int
    signal_type: str
    distance: int
    transform: Annotated[str | None, Field(description="The query's rotation or flip.")]
    labels: Annotated[list[str], Field(description="The bank's labels.")]
    content_labels: list[str]
    external_id: str | None
    source: str | None
    source_metadata: dict[str, Any]
    suppressed: Annotated[bool, Field(description="An allowlist bank matched too.")]
    suppressed_by: NotRequired[list[str]]
    video: NotRequired[VideoMatch]
    variant: NotRequired[
        Annotated[str, Field(description='The bank image variant that matched ("crop90").')]
    ]
    query: NotRequired[
        Annotated[
            str,
            Field(description='"cleaned": only the query cut of a border or caption matched.'),
        ]
    ]
    cleanup: NotRequired[
        Annotated[
            dict[str, Any],
            Field(description='What was cut off: {"border": [t, r, b, l]}, {"caption": "bottom"}.'),
        ]
    ]
    stage: Annotated[
        str,
        Field(description='The index that found it: its signal type, or "local_features".'),
    ]
    inliers: NotRequired[
        Annotated[int, Field(description="local_features: keypoints verified on one transform.")]
    ]


@EXACT
class Matches(TypedDict):
    matches: list[Match]


@EXACT
class HashMatches(TypedDict):
    signal_type: str
    signal: str
    matches: list[Match]


@EXACT
class BatchMatches(TypedDict):
    results: list[HashMatches]


@with_config(ConfigDict(extra="allow"))
class MatchedFile(FileSignals):
    """A file's signals and its matches (PDQ's with its 8 rotations and flips)."""

    matches: list[Match]


# -- banks -----------------------------------------------------------------------


@EXACT
class Bank(TypedDict):
    name: str
    description: str
    enabled: bool
    kind: str
    labels: list[str]
    thresholds: dict[str, int]
    contents: int
    created_at: str
    image_variants: Annotated[
        bool, Field(description="Images added by hashing store crops and rotations too.")
    ]
    variant_hashes: Annotated[int, Field(description="Variant hashes the bank's images hold.")]
    local_features: Annotated[
        bool, Field(description="Images store local features; lookups run the second stage.")
    ]
    min_inliers: Annotated[
        int | None, Field(description="Inliers a local-features match needs (null: default).")
    ]
    feature_images: Annotated[int, Field(description="Images with stored local features.")]
    feature_bytes: Annotated[int, Field(description="Bytes of those features, in all.")]


@EXACT
class BankList(TypedDict):
    banks: list[Bank]


@EXACT
class BankDeleted(TypedDict):
    deleted: str


@EXACT
class Content(TypedDict):
    id: int
    bank: str
    signals: dict[str, str]
    external_id: str | None
    labels: list[str]
    note: str
    source: str | None
    source_metadata: dict[str, Any]
    created_at: str
    disabled_until: str | None
    enabled: bool
    vpdq: NotRequired[list[Frame]]


@EXACT
class ContentAdded(TypedDict):
    content_id: Annotated[int | None, Field(description="None when skipped.")]
    skipped: Annotated[bool, Field(description="The bank has this content already.")]
    warnings: NotRequired[
        Annotated[list[str], Field(description="Why it may not match as expected.")]
    ]


@EXACT
class ContentDeleted(TypedDict):
    deleted: int


@EXACT
class Imported(TypedDict):
    added: int
    skipped: int
    low_quality: NotRequired[
        Annotated[int, Field(description="Entries whose list gives a quality too low to match.")]
    ]


@EXACT
class ContentRef(TypedDict):
    content_id: int
    external_id: str | None


@EXACT
class ContentPage(TypedDict):
    content: list[ContentRef]
    next_after: Annotated[
        int | None, Field(description="after= for the next page; None after the last page.")
    ]


@EXACT
class Changed(TypedDict):
    changed: int


@EXACT
class Comparison(TypedDict):
    signal_type: str
    distance: int
    threshold: int
    match: bool


# -- status ----------------------------------------------------------------------


@EXACT
class Live(TypedDict):
    status: str


@EXACT
class LocalFeatureBank(TypedDict):
    images: Annotated[int, Field(description="Bank images loaded.")]
    queries: Annotated[int, Field(description="Image queries this worker answered.")]
    mean_query_ms: Annotated[float | None, Field(description="Their mean time.")]


@EXACT
class IndexState(TypedDict):
    pdq_hashes: int
    seq: Annotated[int, Field(description="The last change-log entry applied.")]
    sizes: Annotated[dict[str, int], Field(description="Signals per index.")]
    local_features: Annotated[
        dict[str, LocalFeatureBank],
        Field(description="The second stage in this worker, per bank that uses it."),
    ]


@EXACT
class Ready(TypedDict):
    status: str
    worker: Annotated[int, Field(description="The worker's process id.")]
    index: IndexState
