"""One contract for every signal type; each type supplies its cases.

Every installed type must have a contract subclass here (checked below), so a
new type cannot be added without its cases.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import ClassVar

import pytest

from hashmatch import InvalidHashError, UnknownSignalTypeError, get_signal_type, signal_types
from hashmatch.media import open_image
from hashmatch.media.video import open_video
from hashmatch.signals import BytesSignalType, ImageSignalType, SignalType
from hashmatch.signals.base import DihedralSignalType, TextSearchSignalType, VideoSignalType
from hashmatch.signals.email import EmailSignal
from hashmatch.signals.exact import Md5Signal, Sha256Signal, digest_file
from hashmatch.signals.keyword import KeywordSignal
from hashmatch.signals.pdq import PdqSignal
from hashmatch.signals.url import UrlSignal
from hashmatch.signals.username import UsernameSignal
from hashmatch.signals.vpdq import VpdqSignal
from tests.conftest import DATA


class SignalTypeContract:
    signal_type: ClassVar[SignalType]
    threshold: ClassVar[int]
    valid: ClassVar[list[str]]
    invalid: ClassVar[list[str]]
    #: (a, b, distance) triples.
    distances: ClassVar[list[tuple[str, str, int]]]
    #: A file and the hash this type gives it (None: the type hashes no files).
    sample: ClassVar[tuple[Path, str] | None]
    #: Whether canonical values are lower-case (a URL's path keeps its case).
    lower_case: ClassVar[bool] = True

    def test_name_is_registered(self) -> None:
        assert get_signal_type(self.signal_type.name) is signal_types()[self.signal_type.name]
        assert type(get_signal_type(self.signal_type.name)) is type(self.signal_type)

    def test_default_threshold(self) -> None:
        assert self.signal_type.default_threshold == self.threshold

    def test_parse_accepts_and_normalises(self) -> None:
        for text in self.valid:
            canonical = self.signal_type.parse(text)
            assert self.signal_type.parse(canonical) == canonical
            assert canonical == canonical.strip()
            if self.lower_case:
                assert canonical == canonical.lower()

    def test_parse_refuses(self) -> None:
        for text in self.invalid:
            with pytest.raises(InvalidHashError):
                self.signal_type.parse(text)

    def test_distances(self) -> None:
        for a, b, distance in self.distances:
            assert self.signal_type.distance(a, b) == distance
            assert self.signal_type.distance(b, a) == distance
            assert self.signal_type.matches(a, b) == (distance <= self.threshold)

    def test_hashes_its_sample(self) -> None:
        if self.sample is None:
            kinds = (BytesSignalType, ImageSignalType, VideoSignalType)
            assert not isinstance(self.signal_type, kinds)
            return
        path, expected = self.sample
        if isinstance(self.signal_type, BytesSignalType):
            assert digest_file(path, [self.signal_type])[self.signal_type.name] == expected
        elif isinstance(self.signal_type, VideoSignalType):
            with open_video(path) as video:
                assert self.signal_type.hash_video(video)[0].hash == expected
        else:
            assert isinstance(self.signal_type, ImageSignalType)
            with open_image(path) as opened:
                assert self.signal_type.hash_image(opened).value == expected


PHOTO = DATA / "photos" / "nature-beach-malibu.jpg"
PDQ_A = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PDQ_B = "f8f8f0cee0f4a84f06370a2a038f63f0b36e26d596621e1d33e6b39c4e9c9b22"


def _reference_pdq(path: Path) -> str:
    from tests.conftest import REFERENCE_IMAGES

    return next(image.pdq for image in REFERENCE_IMAGES if image.path == path)


class TestPdq(SignalTypeContract):
    signal_type = PdqSignal()
    threshold = 31
    valid: ClassVar = [PDQ_A, PDQ_A.upper(), " " + PDQ_B + "\n"]
    invalid: ClassVar = ["", PDQ_A[:-1], PDQ_A + "00", "z" * 64, "pdq:" + PDQ_A]
    distances: ClassVar = [
        (PDQ_A, PDQ_A, 0),
        (PDQ_A, PDQ_B, 2),
        ("0" * 64, "f" * 64, 256),
        ("0" * 64, "0" * 56 + "7fffffff", 31),
        ("0" * 64, "0" * 56 + "ffffffff", 32),
    ]
    sample: ClassVar = (PHOTO, _reference_pdq(PHOTO))

    def test_is_dihedral(self) -> None:
        assert isinstance(self.signal_type, DihedralSignalType)
        assert len(self.signal_type.transforms) == 8


class TestMd5(SignalTypeContract):
    signal_type = Md5Signal()
    threshold = 0
    valid: ClassVar = ["d41d8cd98f00b204e9800998ecf8427e", "D41D8CD98F00B204E9800998ECF8427E"]
    invalid: ClassVar = [
        "",
        "d41d8cd98f00b204e9800998ecf8427",
        "x" * 32,
        "d41d8cd98f00b204e9800998ecf8427e0",
    ]
    distances: ClassVar = [
        ("d41d8cd98f00b204e9800998ecf8427e", "D41D8CD98F00B204E9800998ECF8427E", 0),
        ("d41d8cd98f00b204e9800998ecf8427e", "d41d8cd98f00b204e9800998ecf8427f", 1),
    ]
    sample: ClassVar = (PHOTO, hashlib.md5(PHOTO.read_bytes()).hexdigest())


class TestSha256(SignalTypeContract):
    signal_type = Sha256Signal()
    threshold = 0
    valid: ClassVar = ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]
    invalid: ClassVar = ["", "e3b0c442", "g" * 64]
    distances: ClassVar = [
        ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",) * 2 + (0,),
        ("0" * 64, "1" + "0" * 63, 1),
    ]
    sample: ClassVar = (PHOTO, hashlib.sha256(PHOTO.read_bytes()).hexdigest())


class TestVpdq(SignalTypeContract):
    """Frame hashes are PDQ hashes; the whole-video contract is in test_vpdq.py."""

    signal_type = VpdqSignal()
    threshold = 31
    valid: ClassVar = [PDQ_A, PDQ_B.upper()]
    invalid: ClassVar = ["", PDQ_A[:-1], "z" * 64]
    distances: ClassVar = [(PDQ_A, PDQ_B, 2), ("0" * 64, "f" * 64, 256)]
    sample: ClassVar = (
        DATA / "video" / "v1.m4v",
        "e9385c303f4ca641d38649a680d7ad6b34f856bceb9cbd12774b16c38ab529cc",
    )


class TestUrl(SignalTypeContract):
    """The normalisation table is in test_lantern_signals.py."""

    signal_type = UrlSignal()
    threshold = 0
    lower_case = False
    valid: ClassVar = [
        "https://example.com/",
        "HTTPS://Example.COM:443/a/./b/../C?utm_source=x&b=2&a=1#top",
        " http://bücher.example/%7e%c3%a9 ",
    ]
    invalid: ClassVar = [
        "",
        "example.com/x",
        "javascript:alert(1)",
        "http://",
        "http://exa mple.com/",
        "http://x.com/\x00",
        "http://x.com:99999/",
        "https://example.com/" + "a" * 2100,
    ]
    distances: ClassVar = [
        ("https://example.com/a", "https://example.com/a", 0),
        ("https://example.com/a", "https://example.com/A", 1),
    ]
    sample: ClassVar = None


class TestEmail(SignalTypeContract):
    signal_type = EmailSignal()
    threshold = 0
    valid: ClassVar = ["anna@example.com", " Anna@Example.COM. ", "J.Doe+x@gmail.com"]
    invalid: ClassVar = ["", "anna", "@example.com", "anna@", "a b@example.com", "anna@localhost"]
    distances: ClassVar = [("anna@example.com", "anna@example.com", 0), ("a@b.co", "b@b.co", 1)]
    sample: ClassVar = None


class TestUsername(SignalTypeContract):
    signal_type = UsernameSignal()
    threshold = 0
    valid: ClassVar = ["twitter:jane", "Instagram:@Jane_Doe", "forum.example:\uff2a"]
    invalid: ClassVar = ["", "jane", ":jane", "twitter:", "twitter:@", "a b:jane", "x:\x07"]
    distances: ClassVar = [("twitter:jane", "twitter:jane", 0), ("twitter:jane", "kik:jane", 1)]
    sample: ClassVar = None


class TestKeyword(SignalTypeContract):
    signal_type = KeywordSignal()
    threshold = 0
    valid: ClassVar = ["trade", "  Trade\tPICS ", "\uff46\uff4f\uff4f bar"]
    invalid: ClassVar = ["", "   ", "!!!", "a" * 200, "x\x00y"]
    distances: ClassVar = [("trade pics", "trade pics", 0), ("trade", "pics", 1)]
    sample: ClassVar = None

    def test_searches_texts(self) -> None:
        assert isinstance(self.signal_type, TextSearchSignalType)


def test_every_installed_type_has_a_contract() -> None:
    covered = {cls.signal_type.name for cls in SignalTypeContract.__subclasses__()}
    assert covered == set(signal_types())


def test_unknown_type_names_the_known_ones() -> None:
    with pytest.raises(
        UnknownSignalTypeError,
        match="unknown signal type 'vpdqx'; known: email, keyword, md5, pdq, sha256, url, "
        "username, vpdq",
    ):
        get_signal_type("vpdqx")


def test_digest_file_streams_across_chunk_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashmatch.signals.exact as exact

    payload = bytes(range(256)) * 4099  # not a multiple of the chunk size
    path = tmp_path / "blob.bin"
    path.write_bytes(payload)
    monkeypatch.setattr(exact, "CHUNK_BYTES", 4096)
    assert digest_file(path, [Md5Signal(), Sha256Signal()]) == {
        "md5": hashlib.md5(payload).hexdigest(),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
