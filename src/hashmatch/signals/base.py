"""The signal type extension point: what a kind of hash is and can do.

A signal type has a stable ``name``, parses and compares hash strings, and
says how close two hashes must be to match.  What it can hash is a separate
capability, checked with ``isinstance``:

* :class:`BytesSignalType` hashes the raw bytes of any file (MD5, SHA-256);
* :class:`ImageSignalType` hashes decoded images (PDQ);
* :class:`DihedralSignalType` also hashes an image's 8 rotations and flips;
* :class:`VideoSignalType` hashes sampled video frames (vPDQ).

How a type is matched is a capability too: a :class:`HammingSignalType`
(PDQ, vPDQ, or a plugin's own perceptual hash) is searched by Hamming
distance in a range index; a :class:`TextSearchSignalType` (keywords) finds
every banked phrase inside a query text; any other type is matched byte for
byte.

A new type is a subclass registered under the ``hashmatch.signal_types``
entry point group, exactly as the built-in ones are::

    class Crc32Signal(BytesSignalType):
        name = "crc32"
        default_threshold = 0

        def parse(self, text: str) -> str: ...
        def distance(self, a: str, b: str) -> int: ...
        def new_digest(self) -> Digest: ...
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:  # the media modules import PIL, numpy and PyAV
    from hashmatch.media.image import OpenedImage
    from hashmatch.media.video import OpenedVideo


@dataclass(frozen=True)
class SignalValue:
    """One hash of one piece of content."""

    signal_type: str
    value: str
    #: 0..100 for perceptual hashes; None where quality means nothing.
    quality: int | None = None


class SignalType(ABC):
    """A kind of hash.  Instances are stateless and shared."""

    #: The stable identifier used in files, URLs and the database.
    name: ClassVar[str]
    #: Largest distance that still counts as a match (inclusive).
    default_threshold: ClassVar[int]

    @abstractmethod
    def parse(self, text: str) -> str:
        """Validate a hash string; return its canonical form or raise InvalidHashError."""

    @abstractmethod
    def distance(self, a: str, b: str) -> int:
        """Distance between two canonical hashes (0 = identical)."""

    def matches(self, a: str, b: str, threshold: int | None = None) -> bool:
        limit = self.default_threshold if threshold is None else threshold
        return self.distance(a, b) <= limit


#: The widest hash the Hamming index holds (4 words of 64 bits).
MAX_HAMMING_BITS = 256


class HammingSignalType(SignalType):
    """Capability: hex hashes of ``bits`` bits compared by Hamming distance,
    searched in an exact range index within each bank's threshold.

    Types that share a ``space`` are searched together: a video frame's PDQ
    (vPDQ) finds a bank image's PDQ and the other way round.  ``parse`` must
    return ``bits // 4`` lowercase hex digits::

        class Toy256Signal(HammingSignalType):
            name = "toy256"
            bits = 256
            default_threshold = 20
    """

    #: Bits in a hash (a multiple of 4, at most 256).
    bits: ClassVar[int]
    #: A hash whose quality is under this is too flat to match on.
    min_match_quality: ClassVar[int] = 0

    @property
    def space(self) -> str:
        """The name of the index this type's hashes live in (its own, by default)."""
        return self.name

    @property
    def max_threshold(self) -> int:
        """The largest threshold a bank may set: two unrelated hashes are about
        ``bits / 2`` bits apart, so a larger one would match nearly anything."""
        return self.bits // 2

    def distance(self, a: str, b: str) -> int:
        return (int(a, 16) ^ int(b, 16)).bit_count()


class TextSearchSignalType(SignalType):
    """Capability: a bank holds phrases (``parse`` normalises one) and a query
    is a text: every banked phrase that occurs in it, at word boundaries,
    matches, all found in one pass (an Aho-Corasick automaton,
    :class:`~hashmatch.index.text.PhraseIndex`)::

        class HashtagSignal(TextSearchSignalType):
            name = "hashtag"
            default_threshold = 0

            def parse(self, text: str) -> str: ...           # one phrase
            def normalise_text(self, text: str) -> str: ...  # a query, folded alike
    """

    #: The longest query text taken.
    max_text_chars: ClassVar[int] = 100_000

    @abstractmethod
    def normalise_text(self, text: str) -> str:
        """A query text folded as phrases are, or InvalidHashError."""

    def distance(self, a: str, b: str) -> int:
        return 0 if a == b else 1


class Digest(Protocol):
    """The part of a ``hashlib`` object a bytes signal needs."""

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


class BytesSignalType(SignalType):
    """Capability: hashes a file's bytes, fed in chunks (any size, constant memory)."""

    @abstractmethod
    def new_digest(self) -> Digest:
        """A fresh incremental hasher."""


class ImageSignalType(SignalType):
    """Capability: hashes decoded images."""

    @abstractmethod
    def hash_image(self, image: OpenedImage, *, fast: bool = False) -> SignalValue:
        """Hash one image; ``fast`` allows a quicker, slightly different decode."""


@dataclass(frozen=True)
class FrameHash:
    """One sampled video frame's hash (vPDQ's "feature")."""

    frame: int
    quality: int
    hash: str
    timestamp: float
    #: The frame's 8 rotated/flipped hashes (original first), when asked for.
    dihedral: tuple[str, ...] = ()
    #: Set on extra hashes of a cropped copy of the frame ("crop5": 5% off each side).
    variant: str = ""

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "frame": self.frame,
            "quality": self.quality,
            "hash": self.hash,
            "timestamp": self.timestamp,
        }
        if self.dihedral:
            record["dihedral"] = list(self.dihedral)
        if self.variant:
            record["variant"] = self.variant
        return record


class VideoSignalType(SignalType):
    """Capability: hashes decoded video, one hash per sampled frame; ``parse``
    and ``distance`` work on one frame's hash."""

    @abstractmethod
    def hash_video(
        self,
        video: OpenedVideo,
        *,
        seconds_per_hash: float = 1.0,
        fast: bool = False,
        dihedral: bool = False,
        crop_variants: tuple[float, ...] = (),
    ) -> list[FrameHash]:
        """The frames' hashes, in frame order (``dihedral``: each frame's 8
        rotations and flips too, to find rotated copies; ``crop_variants``:
        also the hashes of each frame with that share cut off every side,
        for banks, so that cropped copies match)."""


class DihedralSignalType(ImageSignalType):
    """Capability: hashes an image's 8 rotations and flips from one decode."""

    #: Names of the transforms, in the order :meth:`hash_image_dihedral` returns them.
    transforms: ClassVar[tuple[str, ...]]

    @abstractmethod
    def hash_image_dihedral(self, image: OpenedImage, *, fast: bool = False) -> list[SignalValue]:
        """One value per transform, the original first."""
