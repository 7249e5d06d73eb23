"""Exchange source types: the contract every one keeps, and each one's wire
format read from its local simulator (hashmatch.exchange.simulators)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hashmatch.errors import ExchangeError
from hashmatch.exchange import Malformed, PageError, Record, SourceConfig, get_source_type
from hashmatch.exchange.base import Checkpoint, ExchangeSource, Page
from hashmatch.exchange.catalog import RUN_OPTIONS
from hashmatch.exchange.http import PageClient
from hashmatch.exchange.registry import source_types
from hashmatch.exchange.simulators import (
    ListSimulator,
    NcmecEntry,
    NcmecSimulator,
    StopNciiSimulator,
    ThreatExchangeSimulator,
    generated_hashes,
)
from hashmatch.media.download import UrlPolicy

LOOPBACK = UrlPolicy(allow_private=True)
PDQ = "f" * 64


def make_source(
    source_type: str, options: dict[str, str], credentials: str | None = None, timeout: float = 5
) -> ExchangeSource:
    cls = get_source_type(source_type)
    defaults = {o.name: o.default for o in (*cls.options, *RUN_OPTIONS) if o.default is not None}
    client = PageClient(
        LOOPBACK, page_timeout=timeout, secrets=[credentials] if credentials else []
    )
    return cls(SourceConfig("test", {**defaults, **options}, credentials), client)


def all_pages(
    source: ExchangeSource, checkpoint: Checkpoint = None
) -> tuple[list[Page], Checkpoint]:
    pages = []
    while True:
        page = source.fetch_page(checkpoint)
        pages.append(page)
        checkpoint = page.checkpoint
        if not page.more:
            return pages, checkpoint


def records(pages: list[Page]) -> list[Record]:
    return [item for page in pages for item in page.items if isinstance(item, Record)]


class SourceContract:
    """What every source type does; a subclass per type serves five records
    (ids in ``expected``) in more than one page where the type pages."""

    source_type: str

    @contextmanager
    def serving(self, tmp_path: Path) -> Iterator[ExchangeSource]:
        raise NotImplementedError
        yield

    expected: frozenset[str]

    def test_registered_under_its_stable_name(self) -> None:
        cls = source_types()[self.source_type]
        assert cls.name == self.source_type
        assert cls.description
        assert all(option.help for option in cls.options)

    def test_pages_give_every_record_then_nothing_new(self, tmp_path: Path) -> None:
        with self.serving(tmp_path) as source:
            pages, checkpoint = all_pages(source)
            assert {record.external_id for record in records(pages)} == self.expected
            assert all(record.signals for record in records(pages))
            again = source.fetch_page(checkpoint)
        assert not again.more
        assert not [item for item in again.items if isinstance(item, Record)]

    def test_a_checkpoint_gives_the_same_page_again(self, tmp_path: Path) -> None:
        with self.serving(tmp_path) as source:
            first = source.fetch_page(None)
            second = source.fetch_page(None)
        assert first.items == second.items
        assert first.checkpoint == second.checkpoint

    def test_checkpoints_are_json(self, tmp_path: Path) -> None:
        with self.serving(tmp_path) as source:
            pages, _ = all_pages(source)
        for page in pages:
            assert json.loads(json.dumps(page.checkpoint)) == page.checkpoint


class TestNcmecContract(SourceContract):
    source_type = "ncmec"
    expected = frozenset({f"1-{i}" for i in range(5)})

    @contextmanager
    def serving(self, tmp_path: Path) -> Iterator[ExchangeSource]:
        with NcmecSimulator("user:pw", generated=5, page_size=2) as simulator:
            yield make_source("ncmec", {"base_url": simulator.url}, "user:pw")


class TestStopNciiContract(SourceContract):
    source_type = "stopncii"
    expected = frozenset({f"ImagePDQ:{generated_hashes('s', i)[1]}" for i in range(5)})

    @contextmanager
    def serving(self, tmp_path: Path) -> Iterator[ExchangeSource]:
        with StopNciiSimulator("sub:fn") as simulator:
            simulator.records = [
                simulator.record(generated_hashes("s", i)[1], modified=100 + i) for i in range(5)
            ]
            yield make_source("stopncii", {"base_url": simulator.url, "page_size": "2"}, "sub:fn")


class TestThreatExchangeContract(SourceContract):
    source_type = "threatexchange"
    expected = frozenset({f"u{i}" for i in range(5)})

    @contextmanager
    def serving(self, tmp_path: Path) -> Iterator[ExchangeSource]:
        with ThreatExchangeSimulator("app|secret", privacy_group="77") as simulator:
            simulator.updates = [
                simulator.update(f"u{i}", generated_hashes("t", i)[1]) for i in range(5)
            ]
            options = {"base_url": simulator.url, "privacy_group": "77", "page_size": "2"}
            yield make_source("threatexchange", options, "app|secret")


def jsonl_list(count: int) -> str:
    return "".join(
        json.dumps({"signals": {"pdq": generated_hashes("l", i)[1]}, "external_id": f"x{i}"}) + "\n"
        for i in range(count)
    )


class TestFileContract(SourceContract):
    source_type = "file"
    expected = frozenset({f"x{i}" for i in range(5)})

    @contextmanager
    def serving(self, tmp_path: Path) -> Iterator[ExchangeSource]:
        path = tmp_path / "list.jsonl"
        path.write_text(jsonl_list(5))
        yield make_source("file", {"path": str(path), "page_size": "2"})


class TestUrlContract(SourceContract):
    source_type = "url"
    expected = frozenset({f"x{i}" for i in range(5)})

    @contextmanager
    def serving(self, tmp_path: Path) -> Iterator[ExchangeSource]:
        with ListSimulator() as simulator:
            simulator.lists["/known.jsonl"] = jsonl_list(5)
            yield make_source("url", {"base_url": f"{simulator.url}/known.jsonl", "page_size": "2"})


class TestHashmatchContract(SourceContract):
    source_type = "hashmatch"
    expected = frozenset({f"x{i}" for i in range(5)})

    @contextmanager
    def serving(self, tmp_path: Path) -> Iterator[ExchangeSource]:
        with ListSimulator("peer-key") as simulator:
            simulator.lists["/v1/banks/shared/export"] = jsonl_list(5)
            yield make_source(
                "hashmatch",
                {"base_url": simulator.url, "bank": "shared", "page_size": "2"},
                "peer-key",
            )


# -- NCMEC's format ------------------------------------------------------------


def test_ncmec_entries_carry_member_classification_and_fingerprints() -> None:
    with NcmecSimulator("user:pw") as simulator:
        simulator.entries = [
            NcmecEntry(
                "e1",
                member_id=7,
                member_name="Member Seven",
                classification="B1",
                fingerprints={"MD5": "A" * 32, "SHA1": "b" * 40, "PDQ": PDQ},
            ),
            NcmecEntry("e2", member_id=7, kind="video", fingerprints={"MD5": "c" * 32}),
            NcmecEntry("e3", member_id=7, deleted=True),
        ]
        [page], _ = all_pages(make_source("ncmec", {"base_url": simulator.url}, "user:pw"))
    first, gone, video = page.items  # images, then videos
    assert first == Record(
        "7-e1",
        {"md5": "a" * 32, "pdq": PDQ},
        ["B1"],
        {
            "ncmec": {
                "member_id": 7,
                "member_name": "Member Seven",
                "classification": "B1",
                "entry_type": "image",
                "fingerprints": {"sha1": "b" * 40},
            }
        },
    )
    assert isinstance(video, Record)
    assert video.signals == {"md5": "c" * 32}
    assert video.source_metadata["ncmec"]["entry_type"] == "video"
    assert gone == Record("7-e3", deleted=True)


def test_ncmec_bad_entries_are_malformed_records_not_failed_pages() -> None:
    with NcmecSimulator("user:pw") as simulator:
        simulator.entries = [
            NcmecEntry("ok", fingerprints={"PDQ": PDQ}),
            NcmecEntry("bad-hash", fingerprints={"PDQ": "not-a-hash"}),
            NcmecEntry("x", raw="<image><id>no-member</id></image>"),
        ]
        [page], _ = all_pages(make_source("ncmec", {"base_url": simulator.url}, "user:pw"))
    kinds = [type(item).__name__ for item in page.items]
    assert kinds == ["Record", "Malformed", "Malformed"]
    assert isinstance(page.items[2], Malformed)
    assert "no-member" in page.items[2].sample


def test_ncmec_resumes_a_window_from_its_next_page() -> None:
    with NcmecSimulator("user:pw", generated=5, page_size=2) as simulator:
        source = make_source("ncmec", {"base_url": simulator.url}, "user:pw")
        first = source.fetch_page(None)
        assert first.more
        assert first.checkpoint is not None
        second = source.fetch_page(first.checkpoint)
        asked = simulator.requests[-1]
    assert [r.external_id for r in records([second])] == ["1-2", "1-3"]
    assert "start=2" in asked
    assert first.checkpoint["to"] == second.checkpoint["to"]


def test_ncmec_malformed_page_is_a_page_error() -> None:
    with NcmecSimulator("user:pw", generated=3) as simulator:
        simulator.fail_next("malformed")
        source = make_source("ncmec", {"base_url": simulator.url}, "user:pw")
        with pytest.raises(PageError, match="not well-formed XML"):
            source.fetch_page(None)


def test_ncmec_credentials_must_be_user_and_password() -> None:
    with pytest.raises(ExchangeError, match="user:password"):
        make_source("ncmec", {"base_url": "http://127.0.0.1:1"}, "just-a-token")


def test_ncmec_environment_names_the_address() -> None:
    source = make_source("ncmec", {"environment": "test_Industry"}, "u:p")
    assert source.base_url == "https://exttest.cybertip.org/hashsharing"  # type: ignore[attr-defined]
    with pytest.raises(ExchangeError, match="environment"):
        make_source("ncmec", {"environment": "nowhere"}, "u:p")


# -- StopNCII's format ---------------------------------------------------------


def test_stopncii_withdrawn_and_deleted_cases_remove_and_tags_are_kept() -> None:
    with StopNciiSimulator("sub:fn") as simulator:
        simulator.records = [
            simulator.record(PDQ, tags=("tag-b", "tag-a")),
            simulator.record("e" * 64, status="Withdrawn"),
            simulator.record("d" * 64, status="Deleted"),
            {"signalType": "Text", "hashValue": "x", "hashStatus": "Active"},
            "not a record",
        ]
        [page], checkpoint = all_pages(
            make_source("stopncii", {"base_url": simulator.url}, "sub:fn")
        )
    active, withdrawn, deleted, text, junk = page.items
    assert isinstance(active, Record)
    assert active.signals == {"pdq": PDQ}
    assert active.source_metadata["stopncii"]["tags"] == ["tag-a", "tag-b"]
    assert withdrawn == Record(f"ImagePDQ:{'e' * 64}", deleted=True)
    assert isinstance(deleted, Record)
    assert deleted.deleted
    assert isinstance(text, Malformed)
    assert isinstance(junk, Malformed)
    assert checkpoint == {"start": 101, "next": None}


def test_stopncii_page_without_its_cursor_is_a_page_error() -> None:
    with StopNciiSimulator("sub:fn") as simulator:
        simulator.fail_next("malformed")
        with pytest.raises(ExchangeError):
            make_source("stopncii", {"base_url": simulator.url}, "sub:fn").fetch_page(None)


# -- hash lists ------------------------------------------------------------------


def test_jsonl_bad_lines_are_malformed_and_deletions_are_read(tmp_path: Path) -> None:
    path = tmp_path / "list.jsonl"
    lines: list[Any] = [
        {"signals": {"pdq": PDQ}, "external_id": "a"},
        "{not json",
        {"signals": {"pdq": "zz"}},
        {"external_id": "gone", "deleted": True},
        {"signals": {"md5": "b" * 32}},
    ]
    path.write_text(
        "\n".join(item if isinstance(item, str) else json.dumps(item) for item in lines)
    )
    [page] = all_pages(make_source("file", {"path": str(path)}))[0]
    first, bad_json, bad_hash, gone, last = page.items
    assert isinstance(first, Record)
    assert first.external_id == "a"
    assert isinstance(bad_json, Malformed)
    assert bad_json.reason.startswith("line 2:")
    assert isinstance(bad_hash, Malformed)
    assert bad_hash.reason.startswith("line 3:")
    assert gone == Record("gone", deleted=True)
    assert last == Record(f"md5:{'b' * 32}", {"md5": "b" * 32})


def test_an_unchanged_list_is_not_applied_again(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text(PDQ + "\n")
    source = make_source("file", {"path": str(path)})
    [page], checkpoint = all_pages(source)
    assert records([page]) == [Record(f"pdq:{PDQ}", {"pdq": PDQ})]
    assert make_source("file", {"path": str(path)}).fetch_page(checkpoint).items == []
    path.write_text(PDQ + "\n" + "e" * 64 + "\n")
    changed = make_source("file", {"path": str(path)}).fetch_page(checkpoint)
    assert len(changed.items) == 2


def test_a_bad_csv_list_fails_the_page(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("signal_type,signal\npdq,nope\n")
    with pytest.raises(PageError, match=r"list\.csv") as caught:
        make_source("file", {"path": str(path)}).fetch_page(None)
    assert not caught.value.retry


def test_the_hashmatch_type_sends_its_key_and_401s_without_it() -> None:
    with ListSimulator("right-key") as simulator:
        simulator.lists["/v1/banks/b/export"] = jsonl_list(1)
        good = make_source("hashmatch", {"base_url": simulator.url, "bank": "b"}, "right-key")
        assert len(good.fetch_page(None).items) == 1
        bad = make_source("hashmatch", {"base_url": simulator.url, "bank": "b"}, "wrong-key")
        with pytest.raises(ExchangeError, match="401") as caught:
            bad.fetch_page(None)
    assert "wrong-key" not in str(caught.value)


def test_a_stalled_page_is_cut_off_at_the_page_timeout() -> None:
    with NcmecSimulator("user:pw", generated=3) as simulator:
        simulator.fail_next("stall")
        source = make_source("ncmec", {"base_url": simulator.url}, "user:pw", timeout=0.5)
        with pytest.raises(ExchangeError, match="page_timeout"):
            source.fetch_page(None)


def test_private_addresses_are_refused_unless_allowed() -> None:
    cls = get_source_type("url")
    client = PageClient(UrlPolicy(), page_timeout=1)
    source = cls(SourceConfig("t", {"base_url": "http://127.0.0.1:9/x.csv"}), client)
    with pytest.raises(ExchangeError, match="private"):
        source.fetch_page(None)


# -- ThreatExchange's format -----------------------------------------------------


def test_threatexchange_deletes_expired_and_never_stores_the_token() -> None:
    with ThreatExchangeSimulator("app|secret-token", privacy_group="77") as simulator:
        expired = simulator.update("u3", "c" * 64)
        expired["descriptors"]["data"][0]["expire_time"] = 1
        simulator.updates = [
            simulator.update("u1", PDQ, tags=("t2", "t1")),
            simulator.update("u2", "e" * 64, deleted=True),
            expired,
            {"id": "u4", "indicator": "x", "type": "URI", "last_updated": 1_700_000_000},
            simulator.update("u5", "d" * 64),
        ]
        options = {"base_url": simulator.url, "privacy_group": "77", "page_size": "4"}
        source = make_source("threatexchange", options, "app|secret-token")
        pages, _ = all_pages(source)
    first, deleted, gone, other, last = [item for page in pages for item in page.items]
    assert isinstance(first, Record)
    assert first.signals == {"pdq": PDQ}
    assert first.source_metadata["threatexchange"]["tags"] == ["t1", "t2"]
    assert first.source_metadata["threatexchange"]["owners"] == [{"id": "42", "name": "Sim owner"}]
    assert deleted == Record("u2", deleted=True)
    assert gone == Record("u3", deleted=True)
    assert isinstance(other, Malformed)
    assert isinstance(last, Record)
    assert "secret-token" not in json.dumps([page.checkpoint for page in pages])
    assert "access_token=app%7Csecret-token" in simulator.requests[1]


def test_threatexchange_bad_token_is_a_401() -> None:
    with ThreatExchangeSimulator("right", privacy_group="77") as simulator:
        options = {"base_url": simulator.url, "privacy_group": "77"}
        with pytest.raises(ExchangeError, match="401") as caught:
            make_source("threatexchange", options, "wrong-token").fetch_page(None)
    assert "wrong-token" not in str(caught.value)
