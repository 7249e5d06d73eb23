"""StopNCII feedback and ThreatExchange reactions, each source against its
service's simulator through a real PageClient made as the sender makes it
(credentials read from the environment, every part registered to redact):
the bodies and parameters sent, what each answer means for a retry, and
secrets kept out of every error.  The last tests go through the opinion
sender on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from hashmatch.errors import ExchangeError, InvalidFieldError
from hashmatch.exchange import ExchangeInfo, Exchanges
from hashmatch.exchange.base import ExchangeSource, OpinionToSend, Sent
from hashmatch.exchange.catalog import check_options, effective_options
from hashmatch.exchange.runner import open_source
from hashmatch.exchange.simulators import StopNciiSimulator, ThreatExchangeSimulator
from hashmatch.exchange.stopncii import NO_FEEDBACK_KEY
from hashmatch.media.download import UrlPolicy
from hashmatch.store import Database
from hashmatch.store.models import utcnow
from hashmatch.store.review_models import Opinion
from tests.test_exchange_opinions import opinion_rows, sender
from tests.test_review import open_world

LOOPBACK = UrlPolicy(allow_private=True)
ENV = "HASHMATCH_EXCHANGE_OPINIONS_TEST"
HASHES = [format(n, "x") * 64 for n in range(1, 10)]
STOPNCII_KEYS = "subscription-key-1:fetch-key-22:feedback-key-333"
TOKEN = "1001|secret-token-4444"


def opened(
    source_type: str,
    options: dict[str, str],
    credentials: str,
    monkeypatch: pytest.MonkeyPatch,
    *,
    page_timeout: float = 5,
) -> ExchangeSource:
    """The source as the opinion sender opens it (runner.open_source)."""
    monkeypatch.setenv(ENV, credentials)
    info = ExchangeInfo("test", source_type, "b", options, ENV, None, True, 3600, utcnow())
    return open_source(
        info, {**effective_options(info), "page_timeout": str(page_timeout)}, LOOPBACK
    )


def opinion(number: int, external_id: str, verdict: str = "positive") -> OpinionToSend:
    return OpinionToSend(number, external_id, verdict, ("pdq",))


def pdq_id(value: str) -> str:
    return f"ImagePDQ:{value}"


def assert_no_secret(answers: Sequence[Sent], credentials: str) -> None:
    secrets = {credentials, *credentials.replace("|", ":").split(":")} - {"1001"}
    text = " ".join(answer.error or "" for answer in answers)
    for secret in secrets:
        for form in (secret, quote(secret, safe="")):
            assert form not in text


# -- StopNCII ----------------------------------------------------------------------


@pytest.fixture
def stopncii() -> Iterator[StopNciiSimulator]:
    with StopNciiSimulator(STOPNCII_KEYS) as simulator:
        simulator.records = [simulator.record(value) for value in HASHES[:5]]
        yield simulator


def stopncii_source(
    simulator: StopNciiSimulator,
    monkeypatch: pytest.MonkeyPatch,
    credentials: str = STOPNCII_KEYS,
    **options: str,
) -> ExchangeSource:
    return opened("stopncii", {"base_url": simulator.url, **options}, credentials, monkeypatch)


def test_stopncii_feedback_is_one_post_with_count_values_and_tags(
    stopncii: StopNciiSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = stopncii_source(stopncii, monkeypatch, feedback_tags="Nude, Objectionable,Nude")
    opinions = [
        opinion(1, pdq_id(HASHES[0])),
        opinion(2, pdq_id(HASHES[1]), "negative"),
        opinion(3, pdq_id(HASHES[2].upper())),
    ]
    assert source.send_opinions(opinions) == [Sent(1), Sent(2), Sent(3)]
    assert stopncii.requests == ["/SubmitFeedback"]
    assert stopncii.feedback == [
        {
            "count": 3,
            "hashFeedbacks": [
                {
                    "hashValue": HASHES[0],
                    "feedbackValue": "Blocked",
                    "tags": ["Nude", "Objectionable"],
                },
                {"hashValue": HASHES[1], "feedbackValue": "NotBlocked", "tags": []},
                {
                    "hashValue": HASHES[2],
                    "feedbackValue": "Blocked",
                    "tags": ["Nude", "Objectionable"],
                },
            ],
        }
    ]


def test_stopncii_sends_no_tags_unless_set_and_takes_batches_of_its_size(
    stopncii: StopNciiSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = stopncii_source(stopncii, monkeypatch)
    assert source.takes_opinions
    assert source.opinion_batch == 100
    batch = [opinion(n, pdq_id(HASHES[n % 5]), "positive") for n in range(source.opinion_batch)]
    assert all(answer.error is None for answer in source.send_opinions(batch))
    [body] = stopncii.feedback
    assert body["count"] == len(body["hashFeedbacks"]) == 100
    assert {item["feedbackValue"] for item in body["hashFeedbacks"]} == {"Blocked"}
    assert all(item["tags"] == [] for item in body["hashFeedbacks"])


def test_stopncii_an_opinion_naming_no_stopncii_hash_is_refused_alone(
    stopncii: StopNciiSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = stopncii_source(stopncii, monkeypatch)
    answers = source.send_opinions(
        [
            opinion(1, "u-42"),
            opinion(2, "ImagePDQ:not-a-hash"),
            opinion(3, pdq_id(HASHES[0]), "undecided"),
            opinion(4, pdq_id(HASHES[3])),
        ]
    )
    by_id = {answer.opinion_id: answer for answer in answers}
    assert by_id[4] == Sent(4)
    for refused in (1, 2, 3):
        assert by_id[refused].error
        assert not by_id[refused].retry
    assert "<signal type>:<hash>" in (by_id[1].error or "")
    assert "undecided" in (by_id[3].error or "")
    assert [body["count"] for body in stopncii.feedback] == [1]


@pytest.mark.parametrize("fault", ["500", "stall", "expired"])
def test_stopncii_a_failure_that_may_pass_is_retried_for_the_whole_post(
    stopncii: StopNciiSimulator, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    if fault == "expired":
        stopncii.expired = True
    else:
        stopncii.fail_next(fault)
    source = opened(
        "stopncii", {"base_url": stopncii.url}, STOPNCII_KEYS, monkeypatch, page_timeout=0.5
    )
    answers = source.send_opinions([opinion(1, pdq_id(HASHES[0])), opinion(2, pdq_id(HASHES[1]))])
    assert [answer.opinion_id for answer in answers] == [1, 2]
    assert all(answer.error and answer.retry for answer in answers)
    expected = {"500": "HTTP 500", "stall": "did not arrive within", "expired": "HTTP 401"}[fault]
    assert expected in (answers[0].error or "")
    assert_no_secret(answers, STOPNCII_KEYS)
    if fault != "stall":  # a stalled POST was read whole before the answer stalled
        assert stopncii.feedback == []


def test_stopncii_a_refused_post_fails_every_opinion_in_it_for_good(
    stopncii: StopNciiSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = stopncii_source(stopncii, monkeypatch)
    unknown = HASHES[8]  # a valid PDQ hash no record of the service has
    answers = source.send_opinions([opinion(1, pdq_id(HASHES[0])), opinion(2, pdq_id(unknown))])
    assert [(a.opinion_id, a.retry) for a in answers] == [(1, False), (2, False)]
    assert "HTTP 400" in (answers[0].error or "")
    assert "is not a hash StopNCII shares" in (answers[0].error or "")
    assert stopncii.feedback == []
    assert_no_secret(answers, STOPNCII_KEYS)


def test_stopncii_without_the_feedback_key_nothing_is_sent_until_it_is_set(
    stopncii: StopNciiSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_parts = STOPNCII_KEYS.rpartition(":")[0]
    source = stopncii_source(stopncii, monkeypatch, credentials=two_parts)
    answers = source.send_opinions([opinion(1, pdq_id(HASHES[0]))])
    assert answers == [Sent(1, NO_FEEDBACK_KEY, retry=True)]
    assert stopncii.requests == []
    assert "subscription_key:fetch_function_key:feedback_function_key" in NO_FEEDBACK_KEY
    # the fetch still works with two parts
    assert source.fetch_page(None).items


def test_stopncii_the_fetch_key_is_not_the_feedback_key(
    stopncii: StopNciiSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscription, fetch, _ = STOPNCII_KEYS.split(":")
    source = stopncii_source(stopncii, monkeypatch, credentials=f"{subscription}:{fetch}:{fetch}")
    [answer] = source.send_opinions([opinion(1, pdq_id(HASHES[0]))])
    assert answer.retry
    assert "HTTP 401" in (answer.error or "")
    assert_no_secret([answer], STOPNCII_KEYS)


@pytest.mark.parametrize("credentials", ["only-one-part", "a:b:c:d", "a::c", ":b"])
def test_stopncii_credentials_of_another_shape_are_refused_without_showing_them(
    stopncii: StopNciiSimulator, monkeypatch: pytest.MonkeyPatch, credentials: str
) -> None:
    with pytest.raises(ExchangeError, match=r"subscription_key:fetch_function_key\[") as caught:
        stopncii_source(stopncii, monkeypatch, credentials=credentials)
    assert credentials not in str(caught.value)


@pytest.mark.parametrize("tags", ["a,,b", "Nude,", " , "])
def test_stopncii_feedback_tags_with_an_empty_tag_are_refused(
    stopncii: StopNciiSimulator, monkeypatch: pytest.MonkeyPatch, tags: str
) -> None:
    with pytest.raises(InvalidFieldError, match="feedback_tags"):
        check_options("stopncii", {"feedback_tags": tags})
    with pytest.raises(ExchangeError, match="feedback_tags"):
        stopncii_source(stopncii, monkeypatch, feedback_tags=tags)
    assert check_options("stopncii", {"feedback_tags": ""}) == {"feedback_tags": ""}


def test_stopncii_simulator_refuses_bodies_off_the_documented_shape(
    stopncii: StopNciiSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = stopncii_source(stopncii, monkeypatch)
    headers = source.feedback_headers  # type: ignore[attr-defined]
    good = {"hashValue": HASHES[0], "feedbackValue": "Blocked", "tags": []}
    bodies = [
        {"count": 2, "hashFeedbacks": [good]},
        {"count": 1, "hashFeedbacks": [{**good, "feedbackValue": "Maybe"}]},
        {"count": 1, "hashFeedbacks": [{"feedbackValue": "Blocked"}]},
        {"count": 0, "hashFeedbacks": []},
        "not an object",
    ]
    for body in bodies:
        with pytest.raises(ExchangeError, match="HTTP 400"):
            source.http.send(
                "POST", f"{stopncii.url}/SubmitFeedback", json.dumps(body).encode(), headers
            )
    assert stopncii.feedback == []


# -- ThreatExchange ----------------------------------------------------------------


@pytest.fixture
def te() -> Iterator[ThreatExchangeSimulator]:
    with ThreatExchangeSimulator(TOKEN, privacy_group="77") as simulator:
        shared = simulator.update("u1", HASHES[0])
        shared["descriptors"]["data"] += [
            {"id": "own-u1", "owner": {"id": "1001", "name": "Us"}, "tags": []},
            {"id": "other-u1", "owner": {"id": "77000", "name": "Them"}, "tags": []},
        ]
        ours = simulator.update("u2", HASHES[1])
        ours["descriptors"]["data"][0]["owner"]["id"] = "1001"
        simulator.updates = [shared, ours, simulator.update("u3", HASHES[2])]
        yield simulator


def te_source(
    simulator: ThreatExchangeSimulator,
    monkeypatch: pytest.MonkeyPatch,
    credentials: str = TOKEN,
    page_timeout: float = 5,
    **options: str,
) -> ExchangeSource:
    options = {"base_url": simulator.url, "privacy_group": "77", **options}
    return opened("threatexchange", options, credentials, monkeypatch, page_timeout=page_timeout)


def query_of(request: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request).query)


def test_threatexchange_reacts_to_every_other_apps_descriptor_as_documented(
    te: ThreatExchangeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = te_source(te, monkeypatch)
    answers = source.send_opinions([opinion(1, "u1"), opinion(2, "u3", "negative")])
    assert answers == [Sent(1), Sent(2)]
    assert te.reacted == [
        ("descriptor-u1", "SAW_THIS_TOO,HELPFUL"),
        ("other-u1", "SAW_THIS_TOO,HELPFUL"),
        ("descriptor-u3", "NOT_HELPFUL"),
    ]
    lookup, react, *_ = te.requests
    assert urlsplit(lookup).path == "/u1"
    assert query_of(lookup) == {"fields": ["descriptors{id,owner{id}}"], "access_token": [TOKEN]}
    assert urlsplit(react).path == "/descriptor-u1"  # no trailing slash
    assert query_of(react) == {"reactions": ["SAW_THIS_TOO,HELPFUL"], "access_token": [TOKEN]}
    assert len(te.requests) == 5  # two lookups, three reactions: none to our own


def test_threatexchange_reactions_are_the_options(
    te: ThreatExchangeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = te_source(
        te,
        monkeypatch,
        positive_reactions="SAW_THIS_TOO",
        negative_reactions="DISAGREE_WITH_TAGS, NON_MALICIOUS",
    )
    assert source.send_opinions([opinion(1, "u3"), opinion(2, "u3", "negative")]) == [
        Sent(1),
        Sent(2),
    ]
    assert te.reacted == [
        ("descriptor-u3", "SAW_THIS_TOO"),
        ("descriptor-u3", "DISAGREE_WITH_TAGS,NON_MALICIOUS"),
    ]


def test_threatexchange_an_indicator_only_we_describe_is_sent_with_nothing_to_react_to(
    te: ThreatExchangeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = te_source(te, monkeypatch)
    assert source.send_opinions([opinion(1, "u2")]) == [Sent(1)]
    assert te.reacted == []
    assert [urlsplit(request).path for request in te.requests] == ["/u2"]


@pytest.mark.parametrize("fault", ["500", "stall", "expired", "malformed"])
def test_threatexchange_a_failure_that_may_pass_leaves_the_rest_of_the_batch(
    te: ThreatExchangeSimulator, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    if fault == "expired":
        te.expired = True
    else:
        te.fail_next(fault)
    source = te_source(te, monkeypatch, page_timeout=0.5)
    answers = source.send_opinions([opinion(1, "u1"), opinion(2, "u3"), opinion(3, "u2")])
    assert [answer.opinion_id for answer in answers] == [1, 2, 3]
    assert all(answer.error and answer.retry for answer in answers)
    assert len(te.requests) == 1  # the rest were not tried
    assert "not tried" in (answers[1].error or "")
    expected = {
        "500": "HTTP 500",
        "stall": "did not arrive within",
        "expired": "HTTP 401",
        "malformed": "not JSON",
    }[fault]
    assert expected in (answers[0].error or "")
    assert "access_token=***" in (answers[0].error or "")
    assert_no_secret(answers, TOKEN)


def test_threatexchange_a_refused_reaction_fails_for_good_and_the_batch_goes_on(
    te: ThreatExchangeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    te.known_reactions.discard("HELPFUL")  # as if Graph had retired it
    source = te_source(te, monkeypatch)
    answers = source.send_opinions([opinion(1, "u1"), opinion(2, "u3", "negative")])
    assert answers[1] == Sent(2)
    assert answers[0].opinion_id == 1
    assert not answers[0].retry
    assert "HTTP 400" in (answers[0].error or "")
    assert "unknown reaction types" in (answers[0].error or "")
    assert te.reacted == [("descriptor-u3", "NOT_HELPFUL")]
    assert_no_secret(answers, TOKEN)


def test_threatexchange_an_unknown_indicator_fails_for_good(
    te: ThreatExchangeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    [answer] = te_source(te, monkeypatch).send_opinions([opinion(1, "u404")])
    assert not answer.retry
    assert "HTTP 404" in (answer.error or "")
    assert "indicator u404" in (answer.error or "")
    assert_no_secret([answer], TOKEN)


def test_threatexchange_a_2xx_without_success_is_a_failure_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Unsuccessful(ThreatExchangeSimulator):
        def receive(
            self, method: str, path: str, query: dict[str, str], body: bytes
        ) -> tuple[int, str, bytes]:
            return 200, "application/json", b'{"success": false}'

    with Unsuccessful(TOKEN, privacy_group="77") as simulator:
        simulator.updates = [simulator.update("u1", HASHES[0])]
        [answer] = te_source(simulator, monkeypatch).send_opinions([opinion(1, "u1")])
    assert not answer.retry
    assert "descriptor descriptor-u1: the reaction was not a success" in (answer.error or "")
    assert '{"success": false}' in (answer.error or "")


def test_threatexchange_a_token_without_its_app_id_cannot_tell_our_descriptors(
    te: ThreatExchangeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = te_source(te, monkeypatch, credentials="user-token-5555")
    [answer] = source.send_opinions([opinion(1, "u1")])
    assert answer.retry
    assert "app id|secret" in (answer.error or "")
    assert te.requests == []


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("positive_reactions", "SAW_THIS_TOO,LIKE"),
        ("positive_reactions", ""),
        ("negative_reactions", "not_helpful"),
        ("negative_reactions", "NOT_HELPFUL,"),
    ],
)
def test_threatexchange_reactions_not_documented_are_refused(
    te: ThreatExchangeSimulator, monkeypatch: pytest.MonkeyPatch, option: str, value: str
) -> None:
    with pytest.raises(InvalidFieldError, match=option):
        check_options("threatexchange", {"privacy_group": "77", option: value})
    options = {"base_url": te.url, "privacy_group": "77", option: value}
    with pytest.raises(ExchangeError, match=option):
        opened("threatexchange", options, TOKEN, monkeypatch)


# -- through the opinion sender, on both engines ---------------------------------------


@pytest.fixture
def item_id(database: Database, database_url: str, tmp_path: Path) -> int:
    world, _ = open_world(database, database_url, tmp_path)
    [item] = world.queue_photos(1)
    return item


def add_opinions(
    database: Database, item_id: int, exchange: str, external_ids: Sequence[str]
) -> list[int]:
    rows = [
        Opinion(
            item_id=item_id,
            bank="known",
            content_id=number + 1,
            external_id=external_id,
            source=f"exchange:{exchange}",
            opinion="positive" if number % 3 else "negative",
            signal_types=["pdq"],
            status="pending",
        )
        for number, external_id in enumerate(external_ids)
    ]
    with database.transaction() as session:
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def test_stopncii_opinions_go_a_batch_per_post_through_the_sender(
    database: Database, item_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, STOPNCII_KEYS)
    hashes = [format(n, "064x") for n in range(205)]
    with StopNciiSimulator(STOPNCII_KEYS) as simulator:
        simulator.records = [simulator.record(value) for value in hashes]
        Exchanges(database).create(
            "ncii",
            "stopncii",
            bank="known",
            options={"base_url": simulator.url},
            credentials_env=ENV,
        )
        ids = add_opinions(database, item_id, "ncii", [pdq_id(value) for value in hashes])
        first = sender(database, "a").run_once()
        second = sender(database, "a").run_once()
    assert first["ncii"]["sent"] == 200
    assert second["ncii"]["sent"] == 5
    assert [body["count"] for body in simulator.feedback] == [100, 100, 5]
    sent = [item["hashValue"] for body in simulator.feedback for item in body["hashFeedbacks"]]
    assert sorted(sent) == sorted(hashes)
    rows = opinion_rows(database)
    assert {rows[i].status for i in ids} == {"sent"}


def test_threatexchange_failures_keep_no_token_in_the_database(
    database: Database, item_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, TOKEN)
    with ThreatExchangeSimulator(TOKEN, privacy_group="77") as simulator:
        simulator.updates = [simulator.update("u1", HASHES[0])]
        options = {"base_url": simulator.url, "privacy_group": "77"}
        Exchanges(database).create(
            "te", "threatexchange", bank="known", options=options, credentials_env=ENV
        )
        [gone, later] = add_opinions(database, item_id, "te", ["u404", "u1"])
        simulator.fail_next("500")
        counts = sender(database, "a").run_once()
    assert counts["te"]["retrying"] == 2
    rows = opinion_rows(database)
    assert "HTTP 500" in (rows[gone].last_error or "")
    assert "not tried" in (rows[later].last_error or "")
    for row in rows.values():
        assert "secret-token" not in (row.last_error or "")
        assert "access_token=***" in (row.last_error or "")
    assert simulator.reacted == []
