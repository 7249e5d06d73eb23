"""Opinions sent back to NCMEC as hash sharing feedback, against the NCMEC
simulator through a real PageClient: the PUTs, their XML, the reason a
negative one gives, and what each failure says and whether it is retried."""

from __future__ import annotations

import base64
import json
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hashmatch.actions.outbox import Retries
from hashmatch.cli import app as cli_app
from hashmatch.errors import ExchangeError, InvalidFieldError
from hashmatch.exchange.base import OpinionToSend, Sent
from hashmatch.exchange.catalog import ExchangeInfo, Exchanges, check_options, effective_options
from hashmatch.exchange.ncmec import NcmecSource
from hashmatch.exchange.ncmec_feedback import entry_of, feedback_path, parse_reasons
from hashmatch.exchange.opinions import OpinionSender
from hashmatch.exchange.runner import open_source
from hashmatch.exchange.simulators import NcmecEntry, NcmecSimulator
from hashmatch.media.download import UrlPolicy
from hashmatch.store import Database
from hashmatch.store.review_models import Opinion
from tests.test_review import open_world

USER, PASSWORD = "sim-user", "s3cret-pass"
CREDENTIALS = f"{USER}:{PASSWORD}"
TOKEN = base64.b64encode(CREDENTIALS.encode()).decode()
CREDENTIALS_ENV = "HASHMATCH_EXCHANGE_NCMEC_TEST"
NS = "https://hashsharing.ncmec.org/hashsharing/v2"
GUID_A = "0a1b2c3d-0000-4000-8000-00000000000a"
GUID_B = "0a1b2c3d-0000-4000-8000-00000000000b"
#: Entry ids are per member and may hold "-": the external id splits on the first one.
ENTRY = NcmecEntry("img-7-a", member_id=42, fingerprints={"MD5": "a" * 32, "PDQ": "f" * 64})
MD5_ONLY = NcmecEntry("md5only", member_id=42, fingerprints={"MD5": "b" * 32})
AFFIRMATIVE_XML = (
    b"<?xml version='1.0' encoding='UTF-8'?>\n"
    b'<feedbackSubmission xmlns="https://hashsharing.ncmec.org/hashsharing/v2">'
    b"<affirmative/></feedbackSubmission>"
)


def negative_xml(guid: str) -> bytes:
    return (
        b"<?xml version='1.0' encoding='UTF-8'?>\n"
        b'<feedbackSubmission xmlns="https://hashsharing.ncmec.org/hashsharing/v2">'
        b"<negative><reasonIds><guid>" + guid.encode() + b"</guid></reasonIds></negative>"
        b"</feedbackSubmission>"
    )


def submission(inside: str) -> bytes:
    return f'<feedbackSubmission xmlns="{NS}">{inside}</feedbackSubmission>'.encode()


@pytest.fixture
def simulator() -> Iterator[NcmecSimulator]:
    with NcmecSimulator(CREDENTIALS, generated=2) as running:
        running.entries.extend([ENTRY, MD5_ONLY])
        yield running


def source_for(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch, **options: str
) -> NcmecSource:
    """The source as the opinion sender opens it: credentials read from the
    environment, a client that redacts them."""
    monkeypatch.setenv(CREDENTIALS_ENV, CREDENTIALS)
    info = ExchangeInfo(
        name="ncmec-sim",
        source_type="ncmec",
        bank="ncmec",
        options={"base_url": simulator.url, "page_timeout": "0.5", **options},
        credentials_env=CREDENTIALS_ENV,
        credentials_file=None,
        enabled=True,
        interval_seconds=3600,
        created_at=datetime.now(UTC),
    )
    source = open_source(info, effective_options(info), UrlPolicy(allow_private=True))
    assert isinstance(source, NcmecSource)
    return source


def opinion(
    opinion_id: int = 1,
    value: str = "positive",
    external_id: str = "42-img-7-a",
    signal_types: tuple[str, ...] = ("md5", "pdq"),
) -> OpinionToSend:
    return OpinionToSend(opinion_id, external_id, value, signal_types)


def send_one(source: NcmecSource, item: OpinionToSend) -> Sent:
    (sent,) = source.send_opinions([item])
    assert sent.opinion_id == item.id
    return sent


def error_of(sent: Sent, *, retry: bool) -> str:
    """The error of an opinion not sent, after checking whether it is to be retried."""
    assert sent.error is not None
    assert sent.retry is retry
    return sent.error


def taken(simulator: NcmecSimulator) -> list[tuple[str, str, str, str, tuple[str, ...]]]:
    return [
        (f.esp_id, f.entry_id, f.fingerprint_type, f.kind, f.reason_guids)
        for f in simulator.feedback
    ]


def reason_requests(simulator: NcmecSimulator) -> list[str]:
    return [path for path in simulator.requests if path.startswith("/v2/feedback/")]


def test_the_source_takes_opinions_in_batches() -> None:
    assert NcmecSource.takes_opinions
    assert NcmecSource.opinion_batch > 1
    assert "negative_reason" in {option.name for option in NcmecSource.options}


def test_positive_sends_affirmative_feedback_on_each_matched_fingerprint(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = source_for(simulator, monkeypatch)
    assert send_one(source, opinion()) == Sent(1)
    assert taken(simulator) == [
        ("42", "img-7-a", "MD5", "affirmative", ()),
        ("42", "img-7-a", "PDQ", "affirmative", ()),
    ]
    assert simulator.requests == [
        "/v2/entries/42/img-7-a/MD5/feedback",
        "/v2/entries/42/img-7-a/PDQ/feedback",
    ]


def test_only_the_matched_fingerprints_get_feedback(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = source_for(simulator, monkeypatch)
    assert send_one(source, opinion(signal_types=("pdq",))).error is None
    assert send_one(source, opinion(2, external_id="1-0", signal_types=("md5",))).error is None
    assert taken(simulator) == [
        ("42", "img-7-a", "PDQ", "affirmative", ()),
        ("1", "0", "MD5", "affirmative", ()),
    ]


def test_the_xml_bodies_are_as_documented(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = source_for(simulator, monkeypatch, negative_reason=GUID_A)
    simulator.reasons = [(GUID_A, "Not the content described")]
    source.send_opinions([opinion(1, signal_types=("md5",))])
    source.send_opinions([opinion(2, "negative", signal_types=("md5",))])
    positive, negative = (feedback.body for feedback in simulator.feedback)
    assert positive == AFFIRMATIVE_XML
    assert negative == negative_xml(GUID_A)
    # Read back with another parser: namespace, root and children as NCMEC documents them.
    root = ET.fromstring(negative)
    assert root.tag == f"{{{NS}}}feedbackSubmission"
    assert [child.tag for child in root] == [f"{{{NS}}}negative"]
    (guid,) = root.iterfind(f"{{{NS}}}negative/{{{NS}}}reasonIds/{{{NS}}}guid")
    assert guid.text == GUID_A
    (affirmative,) = ET.fromstring(positive)
    assert affirmative.tag == f"{{{NS}}}affirmative"
    assert len(affirmative) == 0


def test_the_put_carries_basic_auth_and_an_xml_content_type(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = source_for(simulator, monkeypatch)
    calls: list[tuple[str, str, dict[str, str]]] = []
    send = source.http.send

    def recording(method: str, url: str, body: bytes | None, headers: Any = None) -> bytes:
        calls.append((method, url, dict(headers or {})))
        return send(method, url, body, headers)

    monkeypatch.setattr(source.http, "send", recording)
    assert send_one(source, opinion(signal_types=("md5",))).error is None
    ((method, url, headers),) = calls
    assert (method, url) == ("PUT", f"{simulator.url}/v2/entries/42/img-7-a/MD5/feedback")
    assert headers["Content-Type"] == "application/xml; charset=utf-8"
    assert headers["Authorization"] == f"Basic {TOKEN}"


def test_negative_gives_the_configured_reason_without_asking_for_the_list(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator.reasons = [(GUID_A, "First"), (GUID_B, "Second")]
    source = source_for(simulator, monkeypatch, negative_reason=GUID_B)
    assert send_one(source, opinion(value="negative")).error is None
    assert taken(simulator) == [
        ("42", "img-7-a", "MD5", "negative", (GUID_B,)),
        ("42", "img-7-a", "PDQ", "negative", (GUID_B,)),
    ]
    assert reason_requests(simulator) == []


def test_negative_reasons_can_differ_by_fingerprint_type(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator.reasons = [(GUID_A, "First"), (GUID_B, "Second")]
    source = source_for(simulator, monkeypatch, negative_reason=f"md5={GUID_A}, PDQ={GUID_B}")
    assert send_one(source, opinion(value="negative")).error is None
    assert [(f.fingerprint_type, f.reason_guids) for f in simulator.feedback] == [
        ("MD5", (GUID_A,)),
        ("PDQ", (GUID_B,)),
    ]


@pytest.mark.parametrize("wrapped", [False, True])
def test_negative_gives_the_only_reason_ncmec_offers_asking_once_per_type(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch, wrapped: bool
) -> None:
    simulator.reasons_wrapped = wrapped  # availableFeedbackReasons as the root, or inside it
    guid, _ = simulator.DEFAULT_REASON
    source = source_for(simulator, monkeypatch)
    sent = source.send_opinions([opinion(1, "negative"), opinion(2, "negative", "1-1")])
    assert sent == [Sent(1), Sent(2)]
    assert [
        (f.esp_id, f.entry_id, f.fingerprint_type, f.reason_guids) for f in simulator.feedback
    ] == [
        ("42", "img-7-a", "MD5", (guid,)),
        ("42", "img-7-a", "PDQ", (guid,)),
        ("1", "1", "MD5", (guid,)),
        ("1", "1", "PDQ", (guid,)),
    ]
    assert reason_requests(simulator) == ["/v2/feedback/MD5/reasons", "/v2/feedback/PDQ/reasons"]


def test_several_reasons_and_none_configured_is_refused_with_their_names(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator.reasons = [(GUID_A, "Not the content described"), (GUID_B, "Wrong category")]
    source = source_for(simulator, monkeypatch)
    sent = send_one(source, opinion(value="negative"))
    error = error_of(sent, retry=False)
    assert "--option negative_reason=<guid>" in error
    assert f"Not the content described ({GUID_A})" in error
    assert f"Wrong category ({GUID_B})" in error
    assert simulator.feedback == []


def test_no_reason_offered_is_refused(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator.reasons = []
    sent = send_one(source_for(simulator, monkeypatch), opinion(value="negative"))
    error = error_of(sent, retry=False)
    assert "NCMEC offers: none" in error


def test_an_unreadable_reason_list_is_retried(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = source_for(simulator, monkeypatch)
    simulator.fail_next("malformed")
    sent = send_one(source, opinion(value="negative"))
    error = error_of(sent, retry=True)
    assert "feedback reasons is not XML" in error
    # The next try asks again (a failure is not cached) and gets through.
    assert send_one(source, opinion(value="negative")).error is None


def test_reasons_with_a_doctype_are_refused() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "x">]>'
        b'<availableFeedbackReasons><reason guid="&e;" name="n" type="Md5"/>'
        b"</availableFeedbackReasons>"
    )
    with pytest.raises(ExchangeError, match="DOCTYPE"):
        parse_reasons(body)
    with pytest.raises(ExchangeError, match="has no <availableFeedbackReasons>"):
        parse_reasons(b"<somethingElse/>")


def test_a_500_is_retried(simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    simulator.fail_next("500")
    sent = send_one(source_for(simulator, monkeypatch), opinion())
    error = error_of(sent, retry=True)
    assert "HTTP 500" in error


def test_rejected_credentials_are_retried(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator.expired = True
    sent = send_one(source_for(simulator, monkeypatch), opinion())
    error = error_of(sent, retry=True)
    assert "HTTP 401" in error
    assert simulator.feedback == []


def test_a_refused_body_is_not_retried_and_ncmec_says_why(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A reason NCMEC does not offer: the simulator answers 400 with its error XML.
    source = source_for(simulator, monkeypatch, negative_reason=GUID_B)
    sent = send_one(source, opinion(value="negative"))
    error = error_of(sent, retry=False)
    assert "HTTP 400" in error
    assert "unknown feedback reason" in error


def test_the_simulator_refuses_a_malformed_feedback_body(simulator: NcmecSimulator) -> None:
    for body in (
        b"not xml",
        b"<feedbackSubmission><affirmative/></feedbackSubmission>",  # no namespace
        submission(""),
        submission("<negative><reasonIds/></negative>"),
        submission("<negative><reasonIds><id>x</id></reasonIds></negative>"),
        submission("<affirmative/><affirmative/>"),
        submission("<affirmative>yes</affirmative>"),
    ):
        status, _, answer = simulator.receive(
            "PUT", "/v2/entries/42/img-7-a/MD5/feedback", {}, body
        )
        assert status == 400, body
        assert ET.fromstring(answer).tag == f"{{{NS}}}error"
    assert simulator.feedback == []


def test_an_unknown_entry_is_not_retried(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = source_for(simulator, monkeypatch)
    sent = source.send_opinions(
        [opinion(1, external_id="42-nothing"), opinion(2, external_id="1-2")]
    )
    assert [(s.opinion_id, s.retry) for s in sent] == [(1, False), (2, False)]
    assert all(s.error is not None and "HTTP 404" in s.error for s in sent)


def test_an_opinion_is_sent_only_when_every_fingerprint_took_it(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The entry has no PDQ: MD5's PUT succeeds, PDQ's is refused, so the opinion is not sent.
    sent = send_one(source_for(simulator, monkeypatch), opinion(external_id="42-md5only"))
    assert "/PDQ/feedback" in error_of(sent, retry=False)
    assert taken(simulator) == [("42", "md5only", "MD5", "affirmative", ())]


def test_a_stalled_put_times_out_and_is_retried(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator.fail_next("stall")
    sent = send_one(source_for(simulator, monkeypatch), opinion(signal_types=("md5",)))
    error = error_of(sent, retry=True)
    assert "did not arrive within 0.5 s" in error


@pytest.mark.parametrize("external_id", ["", "img-7", "42", "42-", "-img", "4 2-x", "٤٢-x"])
def test_an_external_id_that_names_no_entry_is_refused_without_a_request(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch, external_id: str
) -> None:
    sent = send_one(source_for(simulator, monkeypatch), opinion(external_id=external_id))
    error = error_of(sent, retry=False)
    assert "<member id>-<entry id>" in error
    assert simulator.requests == []


@pytest.mark.parametrize("signal_types", [(), ("vpdq",)])
def test_an_opinion_matched_by_no_ncmec_fingerprint_is_refused(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch, signal_types: tuple[str, ...]
) -> None:
    sent = send_one(source_for(simulator, monkeypatch), opinion(signal_types=signal_types))
    error = error_of(sent, retry=False)
    assert "MD5, PDQ" in error
    assert simulator.requests == []


def test_an_unknown_opinion_value_is_refused(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = send_one(source_for(simulator, monkeypatch), opinion(value="maybe"))
    assert "maybe" in error_of(sent, retry=False)
    assert simulator.requests == []


def test_entry_ids_split_on_the_first_dash_and_travel_quoted() -> None:
    assert entry_of("42-img-7-a") == ("42", "img-7-a")
    assert feedback_path("42", "a/b c", "PDQ") == "/v2/entries/42/a%2Fb%20c/PDQ/feedback"


class EchoingSimulator(NcmecSimulator):
    """One that answers every PUT with 400 quoting what it was sent with."""

    def receive(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        echoed = f"<error>Authorization: Basic {TOKEN} ({CREDENTIALS}, {PASSWORD})</error>"
        return 400, "application/xml", echoed.encode()


def test_credentials_are_in_no_error(monkeypatch: pytest.MonkeyPatch) -> None:
    errors: list[str] = []
    with EchoingSimulator(CREDENTIALS) as echoing:
        sent = send_one(source_for(echoing, monkeypatch), opinion())
        errors.append(error_of(sent, retry=False))
        assert "Authorization: Basic ***" in errors[-1]
    with NcmecSimulator(CREDENTIALS) as simulator:
        simulator.entries.append(ENTRY)
        simulator.reasons = [(GUID_A, "a"), (GUID_B, "b")]
        source = source_for(simulator, monkeypatch)
        for fault in ("500", "stall"):
            simulator.fail_next(fault)
            errors.append(send_one(source, opinion()).error or "")
        simulator.expired = True
        errors.append(send_one(source, opinion()).error or "")
        simulator.expired = False
        errors.append(send_one(source, opinion(value="negative")).error or "")
        errors.append(send_one(source, opinion(external_id="42-gone")).error or "")
    assert all(errors)
    for error in errors:
        for secret in (CREDENTIALS, USER, PASSWORD, TOKEN):
            assert secret not in error, error


@pytest.mark.parametrize(
    "value",
    ["nope", f"{GUID_A}x", f"MD5={GUID_A},md5={GUID_B}", f"={GUID_A}", "{" + GUID_A + "}"],
)
def test_a_negative_reason_that_is_not_a_guid_is_refused_when_set(value: str) -> None:
    with pytest.raises(InvalidFieldError, match="negative_reason"):
        check_options("ncmec", {"negative_reason": value})


def test_good_negative_reasons_are_taken() -> None:
    for value in ("", GUID_A, GUID_A.upper(), f"MD5={GUID_A},PDQ={GUID_B}"):
        assert check_options("ncmec", {"negative_reason": value}) == {"negative_reason": value}


def test_an_unknown_environment_is_refused_when_set() -> None:
    with pytest.raises(InvalidFieldError, match="unknown NCMEC environment 'Moon'"):
        check_options("ncmec", {"environment": "Moon"})


def test_an_exchange_cannot_be_added_or_changed_with_a_bad_reason(database_url: str) -> None:
    runner = CliRunner()

    def cli(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli_app, ["--database-url", database_url, *args])
        return result.exit_code, result.output

    assert cli("bank", "create", "ncmec")[0] == 0
    add = ("exchange", "add", "ncmec-sim", "--type", "ncmec", "--bank", "ncmec", "--option")
    code, out = cli(*add, "negative_reason=not-a-guid")
    assert code == 2
    assert "'not-a-guid' is not a GUID" in out
    assert "Traceback" not in out
    assert cli(*add, f"negative_reason={GUID_A}")[0] == 0
    code, out = cli("exchange", "set", "ncmec-sim", "--option", "negative_reason=PDQ=x")
    assert code == 2
    assert "'x' is not a GUID" in out
    pairs = f"MD5={GUID_A},PDQ={GUID_B}"
    assert cli("exchange", "set", "ncmec-sim", "--option", f"negative_reason={pairs}")[0] == 0
    code, out = cli("exchange", "show", "ncmec-sim")
    assert json.loads(out)["options"]["negative_reason"] == pairs


@pytest.fixture
def item_id(database: Database, database_url: str, tmp_path: Path) -> int:
    """A review item for the opinions to belong to (tests/review_world.py)."""
    world, _ = open_world(database, database_url, tmp_path)
    [item] = world.queue_photos(1)
    return item


def test_the_opinion_sender_settles_what_ncmec_answered(
    database: Database,
    item_id: int,
    simulator: NcmecSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CREDENTIALS_ENV, CREDENTIALS)
    Exchanges(database).create(
        "ncmec-sim",
        "ncmec",
        bank="known",
        options={"base_url": simulator.url},
        credentials_env=CREDENTIALS_ENV,
    )
    wanted = [
        ("42-img-7-a", "positive", ["md5", "pdq"]),
        ("42-img-7-a", "negative", ["pdq"]),
        ("img-7-a", "positive", ["md5"]),  # no member id: refused
        ("1-0", "positive", ["md5"]),
    ]
    with database.transaction() as session:
        rows = [
            Opinion(
                item_id=item_id,
                bank="known",
                content_id=number + 1,
                external_id=external_id,
                source="exchange:ncmec-sim",
                opinion=value,
                signal_types=signal_types,
                status="pending",
            )
            for number, (external_id, value, signal_types) in enumerate(wanted)
        ]
        session.add_all(rows)
        session.flush()
        ids = [row.id for row in rows]
    # The first round: each sendable opinion's first request (a PUT, or the
    # reason list the negative one asks for) gets a 500, so it is retried.
    simulator.fail_next("500", count=3)
    sender = OpinionSender(
        database, UrlPolicy(allow_private=True), Retries(3, backoff=0.0, backoff_max=0.0)
    )
    assert sender.run_once() == {
        "ncmec-sim": {"sent": 0, "retrying": 3, "failed": 1, "not_sent": 0}
    }
    assert sender.run_once() == {
        "ncmec-sim": {"sent": 3, "retrying": 0, "failed": 0, "not_sent": 0}
    }
    with database.reading() as session:
        settled = {row.id: row for row in session.scalars(select(Opinion))}
        statuses = [settled[number].status for number in ids]
        refused = settled[ids[2]].last_error or ""
    assert statuses == ["sent", "sent", "failed", "sent"]
    assert "<member id>-<entry id>" in refused
    guid, _ = simulator.DEFAULT_REASON
    assert sorted(taken(simulator)) == [
        ("1", "0", "MD5", "affirmative", ()),
        ("42", "img-7-a", "MD5", "affirmative", ()),
        ("42", "img-7-a", "PDQ", "affirmative", ()),
        ("42", "img-7-a", "PDQ", "negative", (guid,)),
    ]


def test_sources_sending_at_once_each_have_every_feedback_taken(
    simulator: NcmecSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two senders' sources (each its own reason cache) against one threaded simulator.
    sources = [source_for(simulator, monkeypatch) for _ in range(2)]
    results: list[list[Sent]] = [[], []]

    def send(index: int) -> None:
        batch = [opinion(index * 100 + n, ("positive", "negative")[n % 2]) for n in range(20)]
        results[index] = sources[index].send_opinions(batch)

    threads = [threading.Thread(target=send, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [sent.error for batch in results for sent in batch] == [None] * 40
    assert Counter(f.kind for f in simulator.feedback) == {"affirmative": 40, "negative": 40}
    # Each source asked for each type's reasons once.
    assert Counter(reason_requests(simulator)) == {
        "/v2/feedback/MD5/reasons": 2,
        "/v2/feedback/PDQ/reasons": 2,
    }
