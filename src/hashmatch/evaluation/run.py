"""One evaluation: bank the bank images, query every edited copy and every
distractor, record what the matcher said about each, one JSON line per query.

    evaluation = Evaluation(out, bank, distractors, transforms)
    for banked in evaluation.bank():           # skips what an earlier run banked
        ...
    for record in evaluation.run(evaluation.pending()):
        ...

It goes through the paths a deployment uses, not a model of them: bank
images are hashed as ``hashmatch bank add`` hashes them (so stored variants
come along when the bank keeps them) and added with :meth:`Banks.add` to a
bank in a throw-away SQLite database in the output folder; queries are
hashed as ``hashmatch match`` hashes them and matched by :class:`Matcher`
(so query clean-up counts, and local features when the bank uses them:
``local_features``, fixed for an output folder when its bank is created).  Only
the distances recorded beside each verdict, for the recall-vs-threshold
plots, are computed here: the matcher reports matches, not near misses.

Each record is appended (and flushed) as soon as it is known; a run that is
stopped and started again queries only what has no record yet.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
from PIL import Image

from hashmatch.banks import Banks
from hashmatch.errors import BankExistsError, EvaluationError, HashmatchError
from hashmatch.evaluation.sets import SourceImage
from hashmatch.evaluation.transforms import Transform
from hashmatch.hashing import BANK_REQUEST, FileHashes, HashRequest, hash_file
from hashmatch.hashlists import FRAMES, Entry
from hashmatch.matching import Matcher
from hashmatch.media import open_image
from hashmatch.signals import names
from hashmatch.store import Database

#: What a query is hashed with: as ``hashmatch match`` does (clean-up on, its default).
QUERY_REQUEST = HashRequest(dihedral=True, query_cleanup=True)
#: The transform name of a distractor's record.
DISTRACTOR = "distractor"

BANK_NAME = "eval"
DATABASE_FILE = "eval.sqlite"
BANKED_FILE = "banked.jsonl"
RESULTS_FILE = "results.jsonl"
#: Where edited copies are written while they are queried.
SCRATCH_PREFIX = "queries-"

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Query:
    """One picture to match: a bank image edited by ``transform``, or a
    distractor as it is (``transform`` None)."""

    image: SourceImage
    transform: Transform | None

    @property
    def transform_name(self) -> str:
        return DISTRACTOR if self.transform is None else self.transform.name


def read_records(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of ``path`` (none when it does not exist), less a last
    line cut short by an interrupted run."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


class _Appender:
    """Appends JSON lines, each flushed at once, after completing a last
    line an interrupted run left without its newline."""

    def __init__(self, path: Path) -> None:
        if path.exists() and path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            with path.open("a") as broken:
                broken.write("\n")
        self.file = path.open("a")

    def write(self, record: dict[str, Any]) -> None:
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class Distances(NamedTuple):
    """A query's least PDQ distances: to its own image's hashes (stored
    variants included), to its own image's hash alone, and to any other
    image's hashes (None where there are none)."""

    own: int | None
    own_original: int | None
    other: int | None


class _BankHashes:
    """Every PDQ hash the bank holds for each image (its own and its stored
    variants'), for the distance of a query to its own image and to the
    closest other."""

    def __init__(self, banked: Iterable[dict[str, Any]]) -> None:
        owners: list[str] = []
        originals: list[bool] = []
        rows: list[np.ndarray] = []
        for record in banked:
            for position, value in enumerate(record.get("pdq", [])):
                owners.append(record["key"])
                originals.append(position == 0)  # the image's own hash comes first
                rows.append(_words(value))
        self.owners = np.array(owners, dtype=object)
        self.originals = np.array(originals, dtype=bool)
        self.rows = np.array(rows, dtype=np.uint64).reshape(-1, 4)

    def distances(self, query: list[str], own: str | None) -> Distances:
        if not query or not len(self.rows):
            return Distances(None, None, None)
        words = np.stack([_words(value) for value in query])
        bits = np.bitwise_count(words[:, None, :] ^ self.rows[None, :, :]).sum(axis=2)
        nearest = bits.min(axis=0)
        mine = self.owners == own
        return Distances(
            _least(nearest[mine]), _least(nearest[mine & self.originals]), _least(nearest[~mine])
        )


def _least(distances: np.ndarray) -> int | None:
    return int(distances.min()) if len(distances) else None


def _words(value: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(value), dtype=">u8").astype(np.uint64)


def _pdq_hashes(result: FileHashes) -> list[str]:
    """A hashed file's PDQ hashes: its 8 turns (or itself) and its variants."""
    if names.PDQ not in result.signals:
        return []
    own = result.dihedral.get(names.PDQ) or [result.signals[names.PDQ]]
    return [*own, *result.variants.get(names.PDQ, {}).values()]


class Evaluation:
    """Banks, queries and records one evaluation in the folder ``out``."""

    def __init__(
        self,
        out: Path,
        bank: list[SourceImage],
        distractors: list[SourceImage],
        transforms: list[Transform],
        *,
        jobs: int = 1,
        local_features: bool = False,
    ) -> None:
        self.out = out
        self.bank_images = bank
        self.distractors = distractors
        self.transforms = transforms
        self.jobs = max(jobs, 1)
        out.mkdir(parents=True, exist_ok=True)
        self.database = Database.open(f"sqlite:///{out / DATABASE_FILE}")
        self.banks = Banks(self.database)
        with contextlib.suppress(BankExistsError):  # an earlier run's: resumed
            self.banks.create(
                BANK_NAME,
                description="hashmatch eval: the bank images",
                local_features=local_features,
            )
        if self.banks.get(BANK_NAME).local_features != local_features:
            self.database.close()
            said = "with" if not local_features else "without"
            raise EvaluationError(
                f"{out} was banked {said} local features: resume it as it was, "
                "or give another --out"
            )
        #: How bank images and queries are hashed (local features as the bank uses them).
        self.bank_request = replace(BANK_REQUEST, local_features=local_features)
        self.query_request = replace(QUERY_REQUEST, feature_query=local_features)

    def close(self) -> None:
        self.database.close()

    def banked(self) -> dict[str, dict[str, Any]]:
        """What earlier runs banked, by image key."""
        return {record["key"]: record for record in read_records(self.out / BANKED_FILE)}

    def to_bank(self) -> list[SourceImage]:
        done = self.banked()
        return [image for image in self.bank_images if image.key not in done]

    def bank(self, images: list[SourceImage]) -> Iterator[dict[str, Any]]:
        """Hash and add each image as ``hashmatch bank add`` would, yielding
        (and recording) its key, PDQ hashes and quality, or its error."""
        log = _Appender(self.out / BANKED_FILE)
        try:
            for image, (result, _) in zip(
                images,
                _parallel(images, lambda image: _bank_hash(image, self.bank_request), self.jobs),
                strict=True,
            ):
                record: dict[str, Any] = {"key": image.key, "source": image.source}
                if result.ok:
                    entry = Entry(
                        dict(result.signals),
                        image.key,
                        [],
                        "",
                        frames=result.frames.get(FRAMES, []),
                        variants=result.variants,
                        features=result.features,
                    )
                    self.banks.add(BANK_NAME, entry, source="eval")
                    record["pdq"] = _pdq_hashes(result)
                    record["quality"] = result.quality.get(names.PDQ)
                else:
                    record["error"] = result.error
                log.write(record)
                yield record
        finally:
            log.close()

    def pending(self) -> list[Query]:
        """The queries with no record yet: each banked image under each
        transform, then each distractor."""
        done = {(r["query"], r["transform"]) for r in read_records(self.out / RESULTS_FILE)}
        banked = self.banked()
        queries = [
            Query(image, transform)
            for image in self.bank_images
            if "pdq" in banked.get(image.key, {})
            for transform in self.transforms
            if (image.key, transform.name) not in done
        ]
        queries += [
            Query(image, None) for image in self.distractors if (image.key, DISTRACTOR) not in done
        ]
        return queries

    def run(self, queries: list[Query]) -> Iterator[dict[str, Any]]:
        """Match each query, yielding (and recording) what came of it."""
        matcher = Matcher(self.database)
        hashes = _BankHashes(self.banked().values())
        log = _Appender(self.out / RESULTS_FILE)
        for stale in self.out.glob(f"{SCRATCH_PREFIX}*"):  # a killed run's edited copies
            shutil.rmtree(stale, ignore_errors=True)
        scratch = tempfile.TemporaryDirectory(dir=self.out, prefix=SCRATCH_PREFIX)
        try:
            work = _parallel(
                queries,
                lambda query: _query_hash(query, Path(scratch.name), self.query_request),
                self.jobs,
            )
            for query, (result, hash_ms) in zip(queries, work, strict=True):
                record = _verdict(query, result, hash_ms, matcher, hashes)
                log.write(record)
                yield record
        finally:
            log.close()
            scratch.cleanup()


def _verdict(
    query: Query, result: FileHashes, hash_ms: float, matcher: Matcher, hashes: _BankHashes
) -> dict[str, Any]:
    own = None if query.transform is None else query.image.key
    record: dict[str, Any] = {
        "query": query.image.key,
        "source": query.image.source,
        "transform": query.transform_name,
        "hash_ms": round(hash_ms, 2),
    }
    if not result.ok:
        return {**record, "error": result.error, "matched": False, "false_matches": []}
    started = time.perf_counter()
    found = [match for match in matcher.match_result(result) if not match.suppressed]
    match_ms = (time.perf_counter() - started) * 1000
    right = [match for match in found if own is not None and match.external_id == own]
    wrong = sorted({match.external_id or str(match.content_id) for match in found} - {own})
    distances = hashes.distances(_pdq_hashes(result), own)
    return {
        **record,
        "match_ms": round(match_ms, 2),
        "matched": bool(right),
        "false_matches": wrong,
        "own_distance": distances.own,
        # PDQ alone: the distance to the image's own hash, no stored variant.
        "own_original_distance": distances.own_original,
        "closest_other": distances.other,
        "quality": result.quality.get(names.PDQ),
        # How the right content was found: the stored variant, the stage.
        "matched_by": sorted({_how(match.to_json()) for match in right}),
    }


def _how(match: dict[str, Any]) -> str:
    parts = [match.get("stage") or match["signal_type"], match.get("variant") or ""]
    return ":".join(part for part in parts if part)


def _bank_hash(image: SourceImage, request: HashRequest) -> tuple[FileHashes, float]:
    return _timed(lambda: hash_file(image.path, request))


def _query_hash(query: Query, scratch: Path, request: HashRequest) -> tuple[FileHashes, float]:
    """The query's hashes as ``hashmatch match`` computes them from a file,
    and the milliseconds that took (the edit is made before the clock
    starts)."""
    if query.transform is None:
        return _timed(lambda: hash_file(query.image.path, request))
    try:
        with open_image(query.image.path) as opened:
            picture = Image.fromarray(opened.rgb())
        edited = query.transform.apply(picture)
    except (HashmatchError, OSError) as error:
        return FileHashes(str(query.image.path), error=str(error)), 0.0
    # BMP: lossless, and written and decoded in a few milliseconds (PNG
    # took longer to write than the query to hash).
    path = scratch / f"{query.transform.name}-{abs(hash(query.image.key))}.bmp"
    edited.convert("RGB").save(path)
    try:
        return _timed(lambda: hash_file(path, request))
    finally:
        path.unlink(missing_ok=True)


def _timed(hashing: Callable[[], FileHashes]) -> tuple[FileHashes, float]:
    started = time.perf_counter()
    result = hashing()
    return result, (time.perf_counter() - started) * 1000


def _parallel(items: list[T], work: Callable[[T], R], jobs: int) -> Iterator[R]:
    """``work`` on each item on ``jobs`` threads, results in item order,
    with a bounded look-ahead (memory stays flat)."""
    if jobs <= 1:
        yield from map(work, items)
        return
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="hashmatch-eval") as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) >= jobs * 2:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
