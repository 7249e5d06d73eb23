"""The hub's STIX 2.1 objects: every kind of signal round trips, the stix2
library reads what we write, canonical JSON follows RFC 8785, keyed
identifiers, and hostile objects are refused with StixError and nothing else."""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stix2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashmatch.errors import CanonicalJsonError, HubKeyError, InvalidHashError, StixError
from hashmatch.hub.canonical import canonical_json, parse_json
from hashmatch.hub.identifiers import IdentifierKey, keyed_identifier
from hashmatch.hub.patterns import MAX_PATTERN_CHARS, PatternSignal, build_pattern, parse_pattern
from hashmatch.hub.stix import (
    build_identity,
    build_indicator,
    build_opinion,
    identity_id,
    new_version,
    parse_identity,
    parse_indicator,
    parse_opinion,
    revoke,
)

CREATED = datetime(2026, 11, 27, 9, 30, 15, 123456, tzinfo=UTC)
PUBLISHER = identity_id("member-a")
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
FRAMES = json.dumps([f"{PDQ},100,0.0", f"{'0' * 63}1,87,1.0"])
KEY = IdentifierKey(bytes(range(32)))

# (signal as given, signal type, canonical value)
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
KINDS = [
    (PatternSignal("pdq", PDQ.upper()), "pdq", PDQ),
    (PatternSignal("vpdq", FRAMES), "vpdq", FRAMES),
    (PatternSignal("md5", MD5.upper()), "md5", MD5),
    (PatternSignal("sha256", "ab" * 32), "sha256", "ab" * 32),
    (PatternSignal("url", "HTTPS://Example.COM:443/a/../b?utm_source=x&q=1"), "url",
     "https://example.com/b?q=1"),
    (PatternSignal("email", " J.Doe+forum@GoogleMail.com"), "email", "jdoe@gmail.com"),
    (PatternSignal("username", "Instagram: @Jane_O'Doe"), "username", "instagram:jane_o'doe"),
    (PatternSignal("keyword", "don't  TELL \\ anyone"), "keyword", "don't tell \\ anyone"),
]  # fmt: skip


def keyed(signal_type: str, value: str) -> PatternSignal:
    shared = keyed_identifier(KEY, signal_type, value)
    return PatternSignal(shared.signal_type, shared.digest, shared.key_id)


def indicator(signal: PatternSignal | None = None, **options: Any) -> dict[str, Any]:
    options.setdefault("classification", "A1")
    options.setdefault("categories", ["csam"])
    return build_indicator(
        signal or PatternSignal("pdq", PDQ), publisher=PUBLISHER, created=CREATED, **options
    )


def through_stix2(obj: dict[str, Any]) -> dict[str, Any]:
    """What the stix2 library makes of ``obj``: parsed (validated), written back."""
    parsed = stix2.parse(obj, allow_custom=True)
    return json.loads(parsed.serialize())


@pytest.mark.parametrize(("signal", "kind", "value"), KINDS, ids=[k[1] for k in KINDS])
def test_every_kind_of_signal_round_trips(signal: PatternSignal, kind: str, value: str) -> None:
    obj = indicator(signal)
    shared = parse_indicator(obj)
    assert (shared.signal_type, shared.value, shared.key_id) == (kind, value, None)
    assert (shared.publisher, shared.id) == (PUBLISHER, obj["id"])
    assert (shared.classification, shared.categories) == ("A1", ("csam",))
    assert shared.labels == ("category:csam", "classification:A1")
    assert not shared.revoked
    assert (
        shared.created
        == shared.modified
        == shared.valid_from
        == datetime(2026, 11, 27, 9, 30, 15, 123000, tzinfo=UTC)
    )
    assert (obj["pattern_type"], obj["created_by_ref"]) == ("stix", PUBLISHER)
    # The stix2 library validates it (pattern grammar included) and changes nothing.
    assert through_stix2(obj) == obj
    assert parse_indicator(through_stix2(obj)) == shared


@pytest.mark.parametrize("kind", ["email", "username"])
def test_keyed_identifiers_round_trip_without_the_raw_value(kind: str) -> None:
    raw = "Someone@Example.org" if kind == "email" else "forum:Someone"
    obj = indicator(keyed(kind, raw))
    shared = parse_indicator(obj)
    assert (shared.signal_type, shared.key_id, len(shared.value)) == (kind, KEY.key_id, 64)
    assert "someone" not in json.dumps(obj).lower()
    assert through_stix2(obj) == obj


def test_timestamps_are_written_as_stix2_writes_them() -> None:
    """Whole seconds and trailing zeros: stix2 keeps created and modified to the
    millisecond but trims valid_from and valid_until; a signed object must
    come back from it unchanged."""
    whole = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    obj = build_indicator(
        PatternSignal("md5", MD5),
        publisher=PUBLISHER,
        created=whole,
        valid_until=whole + timedelta(days=365, milliseconds=120),
    )
    assert (obj["created"], obj["valid_from"]) == (
        "2026-11-27T09:00:00.000Z",
        "2026-11-27T09:00:00Z",
    )
    assert obj["valid_until"] == "2027-11-27T09:00:00.12Z"
    assert through_stix2(obj) == obj
    assert parse_indicator(obj).valid_until == whole + timedelta(days=365, milliseconds=120)
    with pytest.raises(StixError, match="time zone"):
        build_indicator(
            PatternSignal("md5", MD5), publisher=PUBLISHER, created=datetime(2026, 1, 1)
        )


def test_standard_properties_from_other_producers_are_allowed() -> None:
    obj = {
        **indicator(),
        "description": "from another tool",
        "confidence": 80,
        "indicator_types": ["malicious-activity"],
        "object_marking_refs": ["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"],
    }
    assert through_stix2(obj) == obj
    assert parse_indicator(obj).value == PDQ


def test_patterns_are_the_documented_shapes() -> None:
    assert build_pattern(PatternSignal("md5", "0" * 32)) == f"[file:hashes.MD5 = '{'0' * 32}']"
    assert build_pattern(PatternSignal("sha256", "0" * 64)).startswith("[file:hashes.'SHA-256' = ")
    assert build_pattern(PatternSignal("pdq", PDQ)) == f"[file:hashes.PDQ = '{PDQ}']"
    assert build_pattern(PatternSignal("username", "kik:a'b")) == (
        "[user-account:account_type = 'kik' AND user-account:account_login = 'a\\'b']"
    )
    # Written the other way round, or with quoted hash names, it reads the same.
    assert parse_pattern(
        "[ user-account:account_login='x'  AND user-account:account_type='kik' ]"
    ) == PatternSignal("username", "kik:x")
    assert parse_pattern(f"[file:hashes.'MD5' = '{'A' * 32}']") == PatternSignal("md5", "a" * 32)


def test_ids_are_deterministic_and_follow_the_normalised_value() -> None:
    first = indicator(PatternSignal("url", "https://example.com/a"))
    again = indicator(PatternSignal("url", "HTTPS://EXAMPLE.com:443/a"), classification="B2")
    other = build_indicator(
        PatternSignal("url", "https://example.com/a"),
        publisher=identity_id("member-b"),
        created=CREATED,
    )
    assert first["id"] == again["id"] != other["id"]
    assert identity_id("member-a") == PUBLISHER != identity_id("member-b")
    opinion = build_opinion(first["id"], "confirmed", publisher=PUBLISHER, created=CREATED)
    later = build_opinion(first["id"], "disputed", publisher=PUBLISHER, created=CREATED)
    assert opinion["id"] == later["id"]


def test_identities_and_opinions_round_trip_through_stix2() -> None:
    identity = build_identity("member-a", "Example Platform", created=CREATED, contact="t@x.org")
    member = parse_identity(identity)
    assert (member.id, member.name, member.contact) == (PUBLISHER, "Example Platform", "t@x.org")
    assert through_stix2(identity) == identity
    target = indicator()["id"]
    for verdict, opinion in (
        ("confirmed", "agree"),
        ("false_positive", "disagree"),
        ("disputed", "neutral"),
    ):
        obj = build_opinion(target, verdict, publisher=PUBLISHER, created=CREATED, explanation="x")
        assert (obj["opinion"], obj["object_refs"]) == (opinion, [target])
        assert through_stix2(obj) == obj
        read = parse_opinion(obj)
        assert (read.verdict, read.indicator_id, read.publisher) == (verdict, target, PUBLISHER)
    stronger = dict(obj, opinion="strongly-disagree")
    assert parse_opinion(stronger).verdict == "false_positive"
    with pytest.raises(StixError, match="verdict"):
        build_opinion(target, "maybe", publisher=PUBLISHER, created=CREATED)


def test_new_versions_and_revocation() -> None:
    first = indicator()
    relabelled = new_version(first, modified=CREATED + timedelta(hours=1), labels=["category:csam"])
    assert (relabelled["id"], relabelled["created"]) == (first["id"], first["created"])
    assert parse_indicator(relabelled).classification is None
    revoked = revoke(relabelled, modified=CREATED + timedelta(days=1))
    shared = parse_indicator(revoked)
    assert shared.revoked
    assert shared.modified == datetime(2026, 11, 28, 9, 30, 15, 123000, tzinfo=UTC)
    assert through_stix2(revoked) == revoked
    with pytest.raises(StixError, match="later"):
        new_version(relabelled, modified=CREATED + timedelta(minutes=30))
    with pytest.raises(StixError, match="no new versions"):
        new_version(revoked, modified=CREATED + timedelta(days=2))
    with pytest.raises(StixError, match="no new versions"):
        revoke(revoked, modified=CREATED + timedelta(days=2))
    with pytest.raises(StixError, match="cannot change id"):
        new_version(first, modified=CREATED + timedelta(days=1), id=indicator()["id"])
    with pytest.raises(StixError, match="unknown label"):
        new_version(first, modified=CREATED + timedelta(days=1), labels=["tlp:red"])


# RFC 8785's own examples, written out by hand.
RFC_8785_VALUES = [
    # Section 3.2.2: sorting, numbers, string escapes, literals.
    (
        {
            "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
            "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
            "literals": [None, True, False],
        },
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    ),
    # Section 3.2.3: keys sorted by their UTF-16 code units, not code points.
    (
        {
            "\u20ac": "Euro Sign",
            "\r": "Carriage Return",
            "\ufb33": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\U0001f600": "Emoji: Grinning Face",
            "\u0080": "Control",
            "\u00f6": "Latin Small Letter O With Diaeresis",
        },
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    ),
    # Appendix B: ECMAScript number serialisation.
    ([0.0, -0.0, 5e-324, 1.7976931348623157e308], "[0,0,5e-324,1.7976931348623157e+308]"),
    ([9007199254740991, -9007199254740991], "[9007199254740991,-9007199254740991]"),
    ([1e21, 1e20, 0.000001, 1e-7], "[1e+21,100000000000000000000,0.000001,1e-7]"),
    (
        [295147905179352830000.0, 9.999999999999997e22],
        "[295147905179352830000,9.999999999999997e+22]",
    ),
]


@pytest.mark.parametrize(("value", "expected"), RFC_8785_VALUES)
def test_canonical_json_matches_rfc_8785(value: Any, expected: str) -> None:
    assert canonical_json(value) == expected.encode("utf-8")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ([math.nan], "cannot write"),
        ({"a": math.inf}, "cannot write"),
        ([2**53], "2\\*\\*53"),
        ([-(2**53)], "2\\*\\*53"),
        (["\ud800"], "not canonical"),
        ({1: "a"}, "not canonical"),
        (b"bytes", "not canonical"),
    ],
)
def test_canonical_json_refuses_what_it_cannot_write(value: Any, why: str) -> None:
    with pytest.raises(CanonicalJsonError, match=why):
        canonical_json(value)


def test_canonical_json_refuses_deep_nesting_and_strict_reading() -> None:
    deep: Any = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(CanonicalJsonError, match="deep"):
        canonical_json(deep)
    assert parse_json('{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    for text, why in [
        ('{"a": 1, "b": 2, "a": 3}', "repeats the key 'a'"),
        ("[NaN]", "NaN"),
        ('{"a": Infinity}', "Infinity"),
        ("[" * 40 + "]" * 40, "nested deeper"),
        ("[" * 100_000, "nested deeper"),
        (b"\xff", "not JSON"),
        ("{", "not JSON"),
    ]:
        with pytest.raises(CanonicalJsonError, match=why):
            parse_json(text)


def test_keyed_identifiers_normalise_then_hmac() -> None:
    one = keyed_identifier(KEY, "email", "J.Doe+x@GoogleMail.com")
    assert one == keyed_identifier(KEY, "email", "jdoe@gmail.com")
    assert one.digest == "c166bdcc0ec7685dda35b800517d8666e069b478dc8cabdcfec3b96661cfa832"
    other_key = IdentifierKey(bytes(32))
    assert keyed_identifier(other_key, "email", "jdoe@gmail.com").digest != one.digest
    assert keyed_identifier(other_key, "email", "jdoe@gmail.com").key_id != one.key_id
    # The signal type is in the message: an email and a username never collide.
    assert keyed_identifier(KEY, "username", "gmail.com:jdoe").digest != one.digest
    assert IdentifierKey.from_text(KEY.text()) == KEY
    assert KEY.text() not in repr(KEY)
    with pytest.raises(InvalidHashError, match="keyed"):
        keyed_identifier(KEY, "url", "https://example.com/")
    with pytest.raises(InvalidHashError):
        keyed_identifier(KEY, "email", "not an address")
    with pytest.raises(HubKeyError, match="32 bytes"):
        IdentifierKey(b"short")
    with pytest.raises(HubKeyError, match="base64url"):
        IdentifierKey.from_text("not base64!")


def _set(path: str, value: Any) -> Any:
    def change(obj: dict[str, Any]) -> None:
        if value is _DELETE:
            del obj[path]
        else:
            obj[path] = value

    return change


_DELETE = object()

OTHER_REF = "indicator--00000000-0000-4000-8000-000000000000"
PATTERNS = {
    "SHA-1": "[file:hashes.'SHA-1' = '" + "a" * 40 + "']",
    "OR": f"[file:hashes.PDQ = '{PDQ}' OR file:hashes.PDQ = '{PDQ}']",
    "two": "[url:value = 'https://a.example/'] AND [url:value = 'https://b.example/']",
    "three": "[user-account:account_type = 'a' AND user-account:account_login = 'b'"
    " AND user-account:display_name = 'c']",
    "keyed": "[email-addr:x_hashmatch_hmac_sha256.'k1' = 'abc']",
    "keyed keyword": f"[x-hashmatch-keyword:x_hashmatch_hmac_sha256.'k1' = '{'a' * 64}']",
    "huge": "[url:value = '" + "a" * MAX_PATTERN_CHARS + "']",
    "vPDQ": "[file:hashes.vPDQ = '[\"zz,1,0\"]']",
    "vPDQ range": f"[file:hashes.vPDQ = '[\"{PDQ},101,0\"]']",
}
HOSTILE_INDICATORS = {
    "no pattern": (_set("pattern", _DELETE), "lacks pattern"),
    "wrong type": (_set("type", "malware"), "expected a STIX indicator"),
    "STIX 2.0": (_set("spec_version", "2.0"), "spec_version"),
    "bad id": (_set("id", "indicator--not-a-uuid"), "id must be"),
    "id of another type": (_set("id", PUBLISHER), "id must be"),
    "bad timestamp": (_set("modified", "2026-11-27 09:00"), "modified must be"),
    "impossible date": (_set("created", "2026-02-30T00:00:00.000Z"), "not a real date"),
    "modified before created": (_set("modified", "2020-01-01T00:00:00.000Z"), "earlier"),
    "unknown property": (_set("x_other_vendor", 1), "does not read: x_other_vendor"),
    "extension": (_set("extensions", {}), "does not read: extensions"),
    "confidence not a number": (_set("confidence", "high"), "confidence is not of its STIX"),
    "signature not a string": (_set("x_hashmatch_signature", {}), "x_hashmatch_signature"),
    "sigma pattern": (_set("pattern_type", "sigma"), "pattern_type"),
    "pattern version": (_set("pattern_version", "2.0"), "pattern_version"),
    "pattern not a string": (_set("pattern", ["x"]), "pattern must be a string"),
    "unknown label": (_set("labels", ["malicious-activity"]), "unknown label"),
    "two classifications": (
        _set("labels", ["classification:A1", "classification:B1"]), "at most one"),
    "unknown classification": (_set("labels", ["classification:Z9"]), "unknown classification"),
    "unknown category": (_set("labels", ["category:spam"]), "or category 'spam'"),
    "repeated label": (_set("labels", ["category:csam", "category:csam"]), "repeat"),
    "empty labels": (_set("labels", []), "empty"),
    "labels not strings": (_set("labels", [1]), "list of strings"),
    "revoked not a bool": (_set("revoked", "yes"), "revoked"),
    "creator not an identity": (_set("created_by_ref", OTHER_REF), "created_by_ref"),
    "valid_until first": (_set("valid_until", "2020-01-01T00:00:00Z"), "valid_until"),
    "NUL in name": (_set("name", "a\x00b"), "NUL"),
    "bad PDQ": (_set("pattern", "[file:hashes.PDQ = 'xyz']"), "not a valid pdq"),
    "unknown hash": (_set("pattern", PATTERNS["SHA-1"]), "not a signal hashmatch shares"),
    "OR": (_set("pattern", PATTERNS["OR"]), "AND"),
    "two observations": (_set("pattern", PATTERNS["two"]), "AND"),
    "three comparisons": (_set("pattern", PATTERNS["three"]), "more than two"),
    "unescaped quote": (_set("pattern", "[url:value = 'https://a.example/'x']"), "comparisons"),
    "bad keyed digest": (_set("pattern", PATTERNS["keyed"]), "64 lower-case hex"),
    "keyed keyword": (_set("pattern", PATTERNS["keyed keyword"]), "not a signal"),
    "huge pattern": (_set("pattern", PATTERNS["huge"]), "longer than"),
    "bad vPDQ": (_set("pattern", PATTERNS["vPDQ"]), "not a valid vpdq"),
    "vPDQ out of range": (_set("pattern", PATTERNS["vPDQ range"]), "not a valid vpdq"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(HOSTILE_INDICATORS))
def test_hostile_indicators_are_refused(case: str) -> None:
    change, why = HOSTILE_INDICATORS[case]
    obj = copy.deepcopy(indicator())
    change(obj)
    with pytest.raises(StixError, match=why):
        parse_indicator(obj)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (_set("opinion", "agree-ish"), "opinion must be"),
        (_set("object_refs", []), "exactly one"),
        (_set("object_refs", [PUBLISHER]), "object_refs must be an id of the form indicator"),
        (_set("created_by_ref", _DELETE), "lacks created_by_ref"),
        (_set("explanation", ""), "explanation"),
    ],
)
def test_hostile_opinions_are_refused(change: Any, why: str) -> None:
    obj = build_opinion(indicator()["id"], "confirmed", publisher=PUBLISHER, created=CREATED)
    change(obj)
    with pytest.raises(StixError, match=why):
        parse_opinion(obj)


def test_hostile_identities_are_refused() -> None:
    identity = build_identity("member-a", "Example", created=CREATED)
    for change, why in [
        (_set("identity_class", "individual"), "organization"),
        (_set("name", "two\nlines"), "control"),
        (_set("name", " "), "non-empty"),
        (_set("sectors", ["technology"]), "does not read"),
    ]:
        obj = copy.deepcopy(identity)
        change(obj)
        with pytest.raises(StixError, match=why):
            parse_identity(obj)
    for parse in (parse_identity, parse_indicator, parse_opinion):
        with pytest.raises(StixError, match="JSON object"):
            parse(["not", "an", "object"])


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(indicator())) | st.text(max_size=12),
    value=JSON,
)
def test_any_garbage_in_an_indicator_is_a_stix_error_or_a_valid_signal(
    name: str, value: Any
) -> None:
    """Whatever a peer puts in any property, parsing gives a complete signal or
    StixError, never another exception (a half-read object)."""
    obj = indicator()
    obj[name] = value
    try:
        shared = parse_indicator(obj)
    except StixError:
        return
    assert shared.id == obj["id"]
    assert shared.value
