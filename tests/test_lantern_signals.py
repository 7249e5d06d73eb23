"""Lantern-style signal types (url, email, username, keyword): normalisation
tables, the phrase index (many phrases in long texts, adds and removes while
searching), and banks, hash lists, matching and submissions on both engines.
The contract cases are in test_signal_types.py."""

from __future__ import annotations

import io
import random
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from hashmatch.actions.rule_store import Rules
from hashmatch.actions.rules import parse_rule
from hashmatch.actions.submissions import References, Submissions
from hashmatch.banks import Banks
from hashmatch.errors import ImportFormatError, InvalidHashError, SubmissionError
from hashmatch.hashlists import Entry, ListFormat, entries_text, read_entries
from hashmatch.index import text as text_index
from hashmatch.index.text import PhraseIndex
from hashmatch.matching import Matcher
from hashmatch.settings import Settings
from hashmatch.signals import get_signal_type, parse_query
from hashmatch.signals.email import EmailSignal
from hashmatch.signals.keyword import KeywordSignal
from hashmatch.signals.url import UrlSignal
from hashmatch.signals.username import UsernameSignal
from hashmatch.store import Database
from tests.interleaving import PATIENCE, PausedInside, run_together, started
from tests.test_benchmarks import run

URLS = [
    ("http://example.com", "http://example.com/"),
    ("HTTPS://Example.COM:443/a/./b/../c", "https://example.com/a/c"),
    ("http://example.com:80/#frag", "http://example.com/"),
    ("http://example.com:8080/", "http://example.com:8080/"),
    ("https://example.com/?utm_source=a&utm_medium=b&fbclid=c&gclid=d&mc_eid=e", "https://example.com/"),
    ("https://example.com/p?b=2&a=1&UTM_Campaign=x&msclkid=y&_hsenc=z", "https://example.com/p?a=1&b=2"),
    ("https://example.com/p?utm%5Fsource=x&q=1", "https://example.com/p?q=1"),
    ("http://bücher.example/", "http://xn--bcher-kva.example/"),
    ("http://BÜCHER.example./", "http://xn--bcher-kva.example/"),
    ("http://example.com/%7euser/%41%2f", "http://example.com/~user/A%2F"),
    ("http://example.com/caf\u00e9 ".strip(), "http://example.com/caf%C3%A9"),
    ("http://example.com/%e2%82%ac", "http://example.com/%E2%82%AC"),
    ("http://example.com/100%", "http://example.com/100%25"),
    ("http://example.com/a/../../b/./", "http://example.com/b/"),
    ("http://example.com/Path/Keeps/Case", "http://example.com/Path/Keeps/Case"),
    ("http://[2001:DB8::1]:80/x", "http://[2001:db8::1]/x"),
    ("https://user:Pw@Example.com/", "https://user:Pw@example.com/"),
    ("  https://example.com/x  ", "https://example.com/x"),
]  # fmt: skip
BAD_URLS = [
    "",
    "example.com/x",
    "mailto:a@example.com",
    "http:///path",
    "http://exa_mple..com/",
    "http://example.com/a b",
    "http://example.com/\x07",
    "http://example.com:port/",
    "http://-?-/",
    "https://" + "a" * 9000 + ".com/",
    "http://\ud800.com/",
]
EMAILS = [
    ("anna@example.com", "anna@example.com"),
    ("  Anna.Smith@Example.COM. ", "anna.smith@example.com"),
    ("anna+news@example.com", "anna+news@example.com"),  # no provider rule here
    ("J.Doe+forum@gmail.com", "jdoe@gmail.com"),
    ("jdoe@GoogleMail.com", "jdoe@gmail.com"),
    ("a.b+c@outlook.com", "a.b@outlook.com"),
    ("anna@bücher.example", "anna@xn--bcher-kva.example"),
    ("ännä@example.com", "ännä@example.com"),
]
BAD_EMAILS = ["anna", "anna@", "@x.com", "a@@x.com", "a..b@x.com", ".a@x.com", "a@x", "a@[1.2.3.4]"]
USERNAMES = [
    ("twitter:jane", "twitter:jane"),
    ("Twitter:@Jane", "twitter:jane"),
    ("  kik :  JANE_doe ", "kik:jane_doe"),
    ("telegram:\uff2a\uff41\uff4e\uff45", "telegram:jane"),
    ("roblox:Stra\u00dfe", "roblox:strasse"),
    ("myforum.example:Some  Name", "myforum.example:some name"),
]
BAD_USERNAMES = ["jane", "twitter", "twitter:", "twitter:@", "Bad Platform:x", "x:\x00"]
KEYWORDS = [
    ("trade", "trade"),
    ("  Trade   PICS ", "trade pics"),
    ("\uff34\uff32\uff21\uff24\uff25", "trade"),
    ("STRASSE", "strasse"),
    ("Stra\u00dfe", "strasse"),
]


@pytest.mark.parametrize(("given", "canonical"), URLS)
def test_urls_are_normalised(given: str, canonical: str) -> None:
    assert UrlSignal().parse(given) == canonical


@pytest.mark.parametrize("given", BAD_URLS)
def test_hostile_urls_are_refused_with_a_reason(given: str) -> None:
    with pytest.raises(InvalidHashError, match=r"URL|url"):
        UrlSignal().parse(given)


@pytest.mark.parametrize(("given", "canonical"), EMAILS)
def test_emails_are_normalised(given: str, canonical: str) -> None:
    assert EmailSignal().parse(given) == canonical


@pytest.mark.parametrize("given", BAD_EMAILS)
def test_bad_emails_are_refused(given: str) -> None:
    with pytest.raises(InvalidHashError):
        EmailSignal().parse(given)


@pytest.mark.parametrize(("given", "canonical"), USERNAMES)
def test_usernames_are_normalised(given: str, canonical: str) -> None:
    assert UsernameSignal().parse(given) == canonical


@pytest.mark.parametrize("given", BAD_USERNAMES)
def test_bad_usernames_are_refused(given: str) -> None:
    with pytest.raises(InvalidHashError):
        UsernameSignal().parse(given)


@pytest.mark.parametrize(("given", "canonical"), KEYWORDS)
def test_keywords_are_folded(given: str, canonical: str) -> None:
    assert KeywordSignal().parse(given) == canonical


def test_a_query_text_is_folded_like_phrases_and_may_be_long() -> None:
    keyword = KeywordSignal()
    assert parse_query("keyword", "Hi\n\tTRADE\x07pics") == "hi trade pics"
    assert len(keyword.normalise_text("word " * 20_000)) == 20_000 * 5 - 1
    with pytest.raises(InvalidHashError, match="at most 100000"):
        keyword.normalise_text("x" * 100_001)
    with pytest.raises(InvalidHashError):  # a phrase is not a text
        keyword.parse("x" * 129)


# -- the phrase index -------------------------------------------------------------


def test_phrases_are_found_at_word_boundaries() -> None:
    index = PhraseIndex()
    index.add([(1, "trade"), (2, "trade pics"), (3, "pics"), (4, "ic"), (5, "#tag"), (6, "猫")])
    assert index.search("want to trade pics?") == {1, 2, 3}
    assert index.search("traders trade_pics tradepics") == set()
    assert index.search("a #tag, and 我的猫很可爱") == {5, 6}
    assert index.search("") == set()


def _phrases(count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choices(letters, k=rng.randint(3, 8))) for _ in range(count)]
    return sorted({" ".join(rng.choices(words, k=rng.randint(1, 3))) for _ in range(count)})


def test_many_phrases_in_a_long_text_at_once() -> None:
    phrases = _phrases(20_000)
    index = PhraseIndex()
    index.add(enumerate(phrases))
    rng = random.Random(2)
    planted = rng.sample(range(len(phrases)), 300)
    words = ["".join(rng.choices("0123456789", k=6)) for _ in range(30_000)]
    for position, which in zip(rng.sample(range(len(words)), len(planted)), planted, strict=True):
        words[position] = phrases[which]
    found = index.search(" ".join(words))
    assert set(planted) <= found
    # Anything else found is a banked phrase that really is in the text.
    text = f" {' '.join(words)} "
    assert all(f" {phrases[i]} " in text for i in found)


def test_removed_phrases_are_not_found_and_readded_ones_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(text_index, "MIN_MERGE", 3)
    index = PhraseIndex()
    index.add([(1, "alpha"), (2, "beta"), (3, "alpha")])
    index.remove([1])
    assert index.search("alpha beta") == {2, 3}
    index.remove([3, 99])
    assert index.search("alpha beta") == {2}
    index.add([(4, "gamma"), (5, "delta"), (6, "alpha")])  # past MIN_MERGE: one automaton
    assert index._automata[1] is None
    assert index.search("alpha beta gamma delta") == {2, 4, 5, 6}
    assert len(index) == 4


def test_a_search_under_way_while_phrases_are_removed_and_merged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A search that took the automata before a removal and a merge finds
    no removed phrase, and every phrase live throughout."""
    monkeypatch.setattr(text_index, "MIN_MERGE", 2)
    index = PhraseIndex()
    index.add([(1, "alpha"), (2, "beta")])
    paused = PausedInside(monkeypatch, text_index, "_at_boundaries")
    results: dict[str, Any] = {}
    search = started(lambda: index.search("alpha beta gamma"), "first", results)
    assert paused.reached.wait(PATIENCE)
    index.remove([1])
    index.add([(3, "gamma"), (4, "delta")])  # merges: new automata swapped in
    assert index._automata[1] is None
    paused.release()
    search.join(PATIENCE)
    assert results["first"] == {2}  # the old automata, today's ids
    assert index.search("alpha beta gamma") == {2, 3}


def test_stress_adds_and_removes_while_searching(monkeypatch: pytest.MonkeyPatch) -> None:
    """Four threads: two writers add and remove their own phrases (merging
    often), two readers search; a phrase never removed is always found, a
    removed one never after its removal returned."""
    monkeypatch.setattr(text_index, "MIN_MERGE", 16)
    index = PhraseIndex()
    steady = [(1000 + i, f"steady{i}") for i in range(50)]
    index.add(steady)
    steady_text = " ".join(phrase for _, phrase in steady)
    gone: set[int] = set()
    done = threading.Event()

    def work(name: str) -> None:
        if name.startswith("writer"):
            base = 10_000 * (1 + int(name[-1]))
            for i in range(300):
                index.add([(base + i, f"{name}w{i}")])
                if i % 3 == 0:
                    index.remove([base + i])
                    gone.add(base + i)
            return
        rng = random.Random(name)
        for _ in range(200):
            removed = set(gone)
            words = [f"writer{rng.randint(0, 1)}w{rng.randint(0, 299)}" for _ in range(20)]
            found = index.search(f"{steady_text} {' '.join(words)}")
            assert {i for i, _ in steady} <= found
            assert not (removed & found)
        done.set()

    run_together(work, ["writer0", "writer1", "reader0", "reader1"])
    assert done.is_set()
    final = index.search(" ".join(f"writer{w}w{i}" for w in (0, 1) for i in range(300)))
    assert final == {10_000 * (1 + w) + i for w in (0, 1) for i in range(300) if i % 3}


# -- banks, hash lists, matching and submissions, on both engines ----------------------


BANKED = {
    "url": "https://Example.com/gallery?id=7&utm_source=x",
    "email": "J.Doe@gmail.com",
    "username": "kik:@Trader",
    "keyword": "Trade Pics",
}
CANONICAL = {
    "url": "https://example.com/gallery?id=7",
    "email": "jdoe@gmail.com",
    "username": "kik:trader",
    "keyword": "trade pics",
}


def _lantern_bank(database: Database) -> dict[str, int]:
    """A bank "lantern" with one content per type; their ids by type."""
    banks = Banks(database)
    banks.create("lantern", labels=["B1"])
    ids = {}
    for name, value in BANKED.items():
        content_id = banks.add("lantern", Entry({name: get_signal_type(name).parse(value)}))
        assert content_id is not None
        ids[name] = content_id
    return ids


def test_bank_matching_and_the_change_log(database: Database) -> None:
    ids = _lantern_bank(database)
    matcher = Matcher(database)
    query = {
        "url": [parse_query("url", "https://example.com:443/gallery?id=7#x")],
        "email": [parse_query("email", "jdoe+x@googlemail.com")],
        "username": [parse_query("username", "KIK:trader")],
        "keyword": [parse_query("keyword", "hey, want to TRADE  pics later?")],
    }
    found = {m.signal_type: m for m in matcher.match_hashes(query)}
    assert {name: m.content_id for name, m in found.items()} == ids
    assert {(m.distance, m.bank) for m in found.values()} == {(0, "lantern")}
    assert matcher.match_hashes({"keyword": [parse_query("keyword", "trade-ins")]}) == []
    # Added and removed after the matcher loaded: followed from the change log.
    banks = Banks(database)
    later = banks.add("lantern", Entry({"keyword": "swap"}))
    assert later is not None
    matcher.refresh()
    assert [m.content_id for m in matcher.match_hashes({"keyword": ["let us swap now"]})] == [later]
    banks.remove_content("lantern", [later, ids["keyword"]])
    matcher.refresh()
    assert matcher.match_hashes({"keyword": ["swap trade pics"]}) == []
    assert matcher.sizes()["keyword"] == 0


@pytest.mark.parametrize("list_format", [ListFormat.csv, ListFormat.jsonl])
def test_hash_lists_round_trip(database: Database, list_format: ListFormat) -> None:
    _lantern_bank(database)
    banks = Banks(database)
    exported = entries_text(banks.export("lantern"), list_format)
    again = read_entries(io.StringIO(exported), list_format)
    assert sorted(list(entry.signals.items()) for entry in again) == sorted(
        [(name, value)] for name, value in CANONICAL.items()
    )
    banks.create("copy")
    assert banks.import_entries("copy", again).added == 4
    with pytest.raises(ImportFormatError, match=r"<list>:2: not a URL"):
        read_entries(
            io.StringIO("signal_type,signal\nurl,example.com/x\n"), ListFormat.csv, "<list>"
        )


def test_a_submission_with_accounts_urls_and_text(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    _lantern_bank(database)
    rule = {
        "name": "block-accounts",
        "when": {"signal_types": ["username", "keyword"]},
        "then": [{"action": "block"}],
    }
    Rules(database).create(parse_rule(rule))
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    submissions = Submissions(database, settings, None)
    matcher = Matcher(database)
    given = [
        ("username", "kik:TRADER"),
        ("keyword", "so... trade pics?"),
        ("url", "https://example.org/"),
    ]
    answer = submissions.submit_hashes(matcher, References("post-1", user_ref="u1"), given).answer
    assert answer["verdict"] == "block"
    assert sorted(m["signal_type"] for m in answer["matches"]) == ["keyword", "username"]
    record = submissions.get(answer["submission_id"])
    assert record["signals"] == {"username": ["kik:trader"], "url": ["https://example.org/"]}
    with pytest.raises(SubmissionError, match=r"^urls\[0\]: not a URL"):
        submissions.submit_hashes(
            matcher, References("post-2"), [("url", "nope")], fields=["urls[0]"]
        )


def test_the_keyword_benchmark_prints_its_results() -> None:
    stdout = run("keyword_speed.py", "--phrases", "500", "--words", "50", "--urls", "100")
    assert re.search(
        r"^RESULT phrases=\d+ build_s=[\d.]+ text_chars=\d+ search_ms=[\d.]+ found=\d+ "
        r"add_ms=[\d.]+$",
        stdout,
        re.M,
    )
    assert re.search(r"^RESULT urls=100 urls_per_s=\d+$", stdout, re.M)
