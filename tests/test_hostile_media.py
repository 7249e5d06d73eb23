"""Damaged and hostile media: a clear error or a stated reason per file, never
a traceback, a stopped batch, a 500 or a decode past the limits.

Every file here is generated: clips of moving gradients, noise pictures, and
the same bytes cut, swapped or relabelled.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hashmatch.api import create_app
from hashmatch.apikeys import ApiKeys
from hashmatch.cli import app as cli_app
from hashmatch.errors import CorruptMediaError, ImageTooLargeError
from hashmatch.hashing import HashRequest, hash_file, hash_files
from hashmatch.media.limits import DecodeLimits
from hashmatch.media.video import VideoLimits, open_video
from hashmatch.settings import Settings
from hashmatch.store import Database
from tests.clips import make_clip
from tests.conftest import DATA, encoded, noise_image

PHOTO = DATA / "photos" / "nature-beach-malibu.jpg"
EXACT_ONLY = HashRequest(("md5", "sha256"))


def unknown_codec_clip(path: Path) -> Path:
    """An AVI whose video stream names a codec tag FFmpeg has never heard of."""
    original = make_clip(path.with_suffix(".tmp.avi"), frames=5)
    data = original.read_bytes()
    original.unlink()
    assert data.count(b"FMP4") == 2  # the stream header's and the format's tag
    path.write_bytes(data.replace(b"FMP4", b"QQQQ"))
    return path


def lying_mkv(path: Path, frame_size: int) -> Path:
    """An MKV whose header says 64x64 and whose second frame is a square
    MJPEG picture of ``frame_size`` pixels a side."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuvj420p"
        for number, side in enumerate([64, frame_size, 64]):
            packet = av.Packet(encoded(noise_image(side, side, seed=number), "JPEG"))
            packet.stream = stream
            packet.pts = packet.dts = number
            packet.time_base = Fraction(1, 10)
            container.mux(packet)
    return path


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def damaged_files(folder: Path) -> dict[str, Path]:
    """The damaged kinds that used to pass as success with exact hashes only."""
    jpeg = encoded(noise_image(64, 48), "JPEG")
    png = encoded(noise_image(64, 48), "PNG")
    clip = make_clip(folder / "whole.mov", frames=20).read_bytes()
    zero = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 0, 8, 2, 0, 0, 0))
    files = {
        "swapped.jpg": png[:8] + jpeg[8:],  # a PNG signature on JPEG data
        "swapped.png": jpeg[:4] + png[4:],  # and the other way round
        "zero.png": b"\x89PNG\r\n\x1a\n" + zero + _png_chunk(b"IEND", b""),
        "cut.mov": clip[: len(clip) // 2],
        "huge.y4m": b"YUV4MPEG2 W100000 H100000 F25:1 Ip C420jpeg\nFRAME\n" + b"\x80" * 4096,
        "text.jpg": b"just some words, not a picture\n",
    }
    (folder / "whole.mov").unlink()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in files}


# -- 1. a codec FFmpeg does not know ---------------------------------------------


def test_unknown_codec_is_a_media_error(tmp_path: Path) -> None:
    clip = unknown_codec_clip(tmp_path / "odd.avi")
    with pytest.raises(CorruptMediaError, match=r"odd\.avi: the video's codec is not one"):
        open_video(clip)
    result = hash_file(clip, HashRequest())
    assert result.error is not None
    assert "codec" in result.error


def test_one_bad_file_never_stops_a_folder(tmp_path: Path) -> None:
    unknown_codec_clip(tmp_path / "a-odd.avi")
    (tmp_path / "b-photo.jpg").write_bytes(PHOTO.read_bytes())
    make_clip(tmp_path / "c-clip.mp4", frames=12)
    result = CliRunner().invoke(cli_app, ["hash", "--jobs", "2", str(tmp_path)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    records = {Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert list(records) == ["a-odd.avi", "b-photo.jpg", "c-clip.mp4"]
    assert "codec" in records["a-odd.avi"]["error"]
    assert "pdq" in records["b-photo.jpg"]["signals"]
    assert records["c-clip.mp4"]["vpdq"]


def test_an_unexpected_failure_is_that_files_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashmatch.hashing

    real = hashmatch.hashing.digest_file

    def digest(path: Path, types: Any) -> dict[str, str]:
        if path.name == "bad.bin":
            raise RuntimeError("a bug met on one file")
        return real(path, types)

    monkeypatch.setattr(hashmatch.hashing, "digest_file", digest)
    for name in ("a.bin", "bad.bin", "c.bin"):
        (tmp_path / name).write_bytes(name.encode())
    results = list(hash_files(sorted(tmp_path.iterdir()), EXACT_ONLY, jobs=2))
    assert [r.ok for r in results] == [True, False, True]
    assert "RuntimeError: a bug met on one file" in (results[1].error or "")


# -- 2. a header that lies about the frame size ----------------------------------


def test_every_decoded_frame_is_checked(tmp_path: Path) -> None:
    clip = lying_mkv(tmp_path / "liar.mkv", frame_size=256)
    with open_video(clip, VideoLimits(max_pixels=200 * 200)) as video:
        assert (video.info.width, video.info.height) == (64, 64)  # what the header says
        with pytest.raises(ImageTooLargeError, match=r"256x256 frame, over the 40000-pixel"):
            list(video.sampled_frames(seconds_per_hash=0.1))
    with open_video(clip, VideoLimits(max_pixels=256 * 256)) as video:
        assert [f.rgb.shape for f in video.sampled_frames(0.1)][1] == (256, 256, 3)


def test_ffmpeg_refuses_a_frame_far_over_the_limit(tmp_path: Path) -> None:
    clip = lying_mkv(tmp_path / "liar.mkv", frame_size=512)
    with (
        open_video(clip, VideoLimits(max_pixels=100 * 100)) as video,
        pytest.raises(ImageTooLargeError, match=r"liar\.mkv: a frame .* 10000-pixel limit"),
    ):
        list(video.decoded_frames())
    result = hash_file(clip, HashRequest(video_limits=VideoLimits(max_pixels=100 * 100)))
    assert "10000-pixel limit" in (result.error or "")


# -- 3. damaged files say so -----------------------------------------------------


def test_damaged_media_is_an_error_naming_why(tmp_path: Path) -> None:
    for name, path in damaged_files(tmp_path).items():
        result = hash_file(path, HashRequest())
        assert result.error is not None, name
        assert name in result.error
        kind = "video" if name.endswith((".mov", ".y4m")) else "image"
        signal = "vpdq" if kind == "video" else "pdq"
        assert f"says {kind}: no {signal} computed" in result.error, result.error


def test_exact_hashes_alone_need_no_decoding(tmp_path: Path) -> None:
    for name, path in damaged_files(tmp_path).items():
        result = hash_file(path, EXACT_ONLY)
        assert result.ok, name
        assert set(result.signals) == {"md5", "sha256"}


def test_a_file_that_is_not_media_says_why_it_has_no_perceptual_hash(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello, not a picture\n")
    record = hash_file(notes, HashRequest()).to_json()
    assert set(record["signals"]) == {"md5", "sha256"}
    assert set(record["not_computed"]) == {"pdq", "vpdq"}
    assert "not an image format hashmatch reads" in record["not_computed"]["pdq"]
    # An image or a video has nothing to explain.
    assert "not_computed" not in hash_file(PHOTO, HashRequest()).to_json()
    clip = make_clip(tmp_path / "clip.mp4", frames=12)
    assert "not_computed" not in hash_file(clip, HashRequest()).to_json()


def test_cli_reports_text_named_jpg(tmp_path: Path) -> None:
    fake = tmp_path / "holiday.jpg"
    fake.write_text("not a picture")
    result = CliRunner().invoke(cli_app, ["hash", str(fake)])
    assert result.exit_code == 1
    [record] = map(json.loads, result.stdout.splitlines())
    assert "not an image format hashmatch reads" in record["error"]
    assert "no pdq computed" in record["error"]
    exact = CliRunner().invoke(cli_app, ["hash", "--signal", "md5,sha256", str(fake)])
    assert exact.exit_code == 0
    assert set(json.loads(exact.stdout)["signals"]) == {"md5", "sha256"}


# -- through the API, under the server's limits ------------------------------------


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    database = Database.open(url)
    key = ApiKeys(database).create("k", ["admin"])[0]
    database.close()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        max_image_pixels=100_000,
        max_video_pixels=200 * 200,
        max_video_seconds=2.0,
    )
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        app.state.service.wait_until_loaded(60)
        yield client, {"Authorization": f"Bearer {key}"}


def _upload(api: tuple[TestClient, dict[str, str]], route: str, field: str, path: Path) -> Any:
    client, headers = api
    return client.post(route, files={field: (path.name, path.read_bytes())}, headers=headers)


def test_api_answers_4xx_for_hostile_and_damaged_media(
    api: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    odd = unknown_codec_clip(tmp_path / "odd.avi")
    for route, field in (("/v1/hash", "file"), ("/v1/match", "file")):
        response = _upload(api, route, field, odd)
        assert response.status_code == 400, (route, response.text)
        assert "codec" in response.text
    as_hma = _upload(api, "/h/hash", "video", odd)  # HMA's clients want its MD5 all the same
    assert as_hma.status_code == 200
    assert "codec" in as_hma.json()["not_computed"]["vpdq"]
    liar = _upload(api, "/v1/hash", "file", lying_mkv(tmp_path / "liar.mkv", frame_size=256))
    assert liar.status_code == 400
    assert "40000-pixel limit" in liar.json()["error"]["message"]
    for name, path in damaged_files(tmp_path).items():
        response = _upload(api, "/v1/hash", "file", path)
        assert response.status_code == 400, name
        assert name in response.json()["error"]["message"]
        assert str(tmp_path) not in response.json()["error"]["message"]


def test_api_uses_the_servers_limits(
    api: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    photo = _upload(api, "/v1/hash", "file", PHOTO)  # 480x360
    assert photo.status_code == 400
    assert "over the 100000-pixel limit" in photo.json()["error"]["message"]
    long = _upload(api, "/v1/hash", "file", make_clip(tmp_path / "long.mp4", frames=40))
    assert long.status_code == 400
    assert "long.mp4" in long.json()["error"]["message"]
    short = _upload(api, "/v1/hash", "file", make_clip(tmp_path / "short.mp4", frames=12))
    assert short.status_code == 200, short.text


def test_api_explains_a_missing_perceptual_hash(
    api: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("plain words")
    body = _upload(api, "/v1/hash", "file", notes).json()
    assert set(body["signals"]) == {"md5", "sha256"}
    assert body["not_computed"]["pdq"] == "notes.txt: not an image format hashmatch reads"
    client, headers = api
    typed = client.post(
        "/v1/hash", files={"file": ("upload", b"plain words", "image/png")}, headers=headers
    )
    assert typed.status_code == 400
    assert "says image" in typed.json()["error"]["message"]


def test_server_limits_are_stricter_than_the_command_lines() -> None:
    server = Settings()
    assert DecodeLimits.from_settings(server).max_pixels < DecodeLimits().max_pixels
    assert VideoLimits.from_settings(server).max_seconds == 600
    assert VideoLimits.from_settings(server).max_seconds < VideoLimits().max_seconds
    assert VideoLimits.from_settings(server).max_decode_seconds == 60
    assert VideoLimits.from_settings(server).max_decode_seconds < VideoLimits().max_decode_seconds
