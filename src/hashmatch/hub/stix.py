"""The STIX 2.1 objects the hub carries: members' Identities, signals as
Indicators, and feedback as Opinions and Sightings; built here and read
back strictly.

Ids are deterministic (UUIDv5), so sharing a signal twice makes the same
object, and a new version keeps its id:

* a member's Identity: ``identity--uuid5(NAMESPACE, member_ref)``;
* an Indicator: ``indicator--uuid5(<publisher's identity UUID>, pattern)``;
* an Opinion: ``opinion--uuid5(<publisher's identity UUID>, indicator id)``:
  one opinion per member and indicator, changed by new versions;
* a Sighting: ``sighting--uuid5(<publisher's identity UUID>, "<indicator id>
  <report>")``, ``report`` the member's own id of the CyberTipline report
  that reported the match: one sighting per member, indicator and report,
  so sending it again sends the same object.

Labels carry the industry classification and the signal's category:
``classification:A1`` (A1, A2, B1 or B2; at most one) and
``category:grooming`` (any of :data:`CATEGORIES`).  A new version has a
later ``modified``; a retraction is a new version with ``revoked: true``.

The ``parse_*`` functions take what a peer sent and return plain records,
or raise :class:`~hashmatch.errors.StixError` naming the first thing wrong:
a missing or unknown property, a bad id or timestamp, an unknown label, a
pattern that is not one of :mod:`hashmatch.hub.patterns`' shapes.  Nothing
is half-read.  What every object shares is checked in
:mod:`hashmatch.hub.stix_properties`; signatures are
:mod:`hashmatch.hub.signing`'s job.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hashmatch.errors import StixError
from hashmatch.fieldlimits import DESCRIPTION_CHARS
from hashmatch.hub import stix_properties as props
from hashmatch.hub.patterns import PatternSignal, build_pattern, parse_pattern
from hashmatch.hub.signing import SIGNATURE_PROPERTY
from hashmatch.hub.stix_properties import SPEC_VERSION, stix_timestamp
from hashmatch.reporting.cybertip.content import CLASSIFICATIONS

#: The namespace of members' Identity ids.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:hashmatch:stix")
#: The signal categories a label may name (Lantern's kinds of abuse).
CATEGORIES = ("csam", "grooming", "sextortion", "trafficking", "other")
CLASSIFICATION_PREFIX = "classification:"
CATEGORY_PREFIX = "category:"
#: A review decision as STIX's opinion, and back.
OPINIONS = {"confirmed": "agree", "false_positive": "disagree", "disputed": "neutral"}
_VERDICTS = {
    **{opinion: verdict for verdict, opinion in OPINIONS.items()},
    "strongly-agree": "confirmed",
    "strongly-disagree": "false_positive",
}
NAME_CHARS = 200
#: The custom property saying a sighting's matches were reported to the
#: authorities (NCMEC's CyberTipline).
REPORTED_PROPERTY = "x_hashmatch_reported"
#: STIX 2.1's bounds of a sighting's count.
MAX_SIGHTING_COUNT = 999_999_999


@dataclass(frozen=True)
class MemberIdentity:
    id: str
    name: str
    contact: str | None
    created: datetime
    modified: datetime
    revoked: bool


@dataclass(frozen=True)
class SharedSignal:
    """One Indicator as a bank takes it."""

    id: str
    signal_type: str
    #: The canonical value, or the HMAC's hex digest when ``key_id`` is set.
    value: str
    publisher: str
    labels: tuple[str, ...]
    classification: str | None
    categories: tuple[str, ...]
    revoked: bool
    created: datetime
    modified: datetime
    valid_from: datetime
    valid_until: datetime | None
    #: The identifier key's id for a keyed email or username; else None.
    key_id: str | None


@dataclass(frozen=True)
class SharedOpinion:
    """A member's feedback on one indicator: confirmed, false_positive or disputed."""

    id: str
    indicator_id: str
    verdict: str
    publisher: str
    explanation: str | None
    created: datetime
    modified: datetime
    revoked: bool


@dataclass(frozen=True)
class SharedSighting:
    """A member's sighting of one indicator: ``count`` matches, reported to
    the authorities when ``reported``."""

    id: str
    indicator_id: str
    publisher: str
    #: How many times it was sighted (STIX: absent means unknown; read as 1).
    count: int
    reported: bool
    first_seen: datetime | None
    last_seen: datetime | None
    created: datetime
    modified: datetime
    revoked: bool


def identity_id(member_ref: str) -> str:
    """The Identity id of the member the hub knows as ``member_ref``."""
    return f"identity--{uuid.uuid5(NAMESPACE, member_ref)}"


def labels_for(classification: str | None, categories: Iterable[str]) -> list[str]:
    """The STIX labels for a classification and categories (checked, sorted)."""
    labels = {CATEGORY_PREFIX + category for category in categories}
    if classification is not None:
        labels.add(CLASSIFICATION_PREFIX + classification)
    _read_labels(sorted(labels))
    return sorted(labels)


def build_identity(
    member_ref: str, name: str, *, created: datetime, contact: str | None = None
) -> dict[str, Any]:
    """A member's Identity (an organisation)."""
    stamp = stix_timestamp(created)
    obj: dict[str, Any] = {
        "type": "identity",
        "spec_version": SPEC_VERSION,
        "id": identity_id(member_ref),
        "created": stamp,
        "modified": stamp,
        "name": name,
        "identity_class": "organization",
    }
    if contact is not None:
        obj["contact_information"] = contact
    parse_identity(obj)
    return obj


def indicator_id(signal: PatternSignal, publisher: str) -> str:
    """The id of ``publisher``'s Indicator for ``signal``: the same pattern
    always has the same id, so sharing again sends the same object."""
    return f"indicator--{uuid.uuid5(props.uuid_of(publisher), build_pattern(signal))}"


def build_indicator(
    signal: PatternSignal,
    *,
    publisher: str,
    created: datetime,
    classification: str | None = None,
    categories: Iterable[str] = (),
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> dict[str, Any]:
    """An Indicator for ``signal`` published by the Identity ``publisher``."""
    props.reference(publisher, "identity", "created_by_ref")
    pattern = build_pattern(signal)
    stamp = stix_timestamp(created)
    keyed = " (keyed hash)" if signal.key_id is not None else ""
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": SPEC_VERSION,
        "id": indicator_id(signal, publisher),
        "created_by_ref": publisher,
        "created": stamp,
        "modified": stamp,
        "name": f"hashmatch {signal.signal_type} signal{keyed}",
        "pattern": pattern,
        "pattern_type": "stix",
        "pattern_version": SPEC_VERSION,
        "valid_from": stix_timestamp(valid_from or created, trimmed=True),
    }
    if valid_until is not None:
        obj["valid_until"] = stix_timestamp(valid_until, trimmed=True)
    labels = labels_for(classification, categories)
    if labels:
        obj["labels"] = labels
    parse_indicator(obj)
    return obj


def build_opinion(
    indicator_id: str,
    verdict: str,
    *,
    publisher: str,
    created: datetime,
    explanation: str | None = None,
) -> dict[str, Any]:
    """``publisher``'s verdict on an indicator: confirmed, false_positive or disputed."""
    if verdict not in OPINIONS:
        raise StixError(f"a verdict is one of {', '.join(OPINIONS)}, not {verdict!r}")
    props.reference(publisher, "identity", "created_by_ref")
    props.reference(indicator_id, "indicator", "object_refs")
    stamp = stix_timestamp(created)
    obj: dict[str, Any] = {
        "type": "opinion",
        "spec_version": SPEC_VERSION,
        "id": f"opinion--{uuid.uuid5(props.uuid_of(publisher), indicator_id)}",
        "created_by_ref": publisher,
        "created": stamp,
        "modified": stamp,
        "opinion": OPINIONS[verdict],
        "object_refs": [indicator_id],
    }
    if explanation is not None:
        obj["explanation"] = explanation
    parse_opinion(obj)
    return obj


def sighting_id(indicator_id: str, *, publisher: str, report: str) -> str:
    """The id of ``publisher``'s sighting of an indicator for its own report ``report``."""
    return f"sighting--{uuid.uuid5(props.uuid_of(publisher), f'{indicator_id} {report}')}"


def build_sighting(
    indicator_id: str,
    *,
    publisher: str,
    created: datetime,
    report: str,
    count: int = 1,
) -> dict[str, Any]:
    """``publisher`` reported ``count`` matches of an indicator to the
    authorities, in its report ``report`` (its own id: only the object's id
    is derived from it)."""
    props.reference(publisher, "identity", "created_by_ref")
    props.reference(indicator_id, "indicator", "sighting_of_ref")
    stamp = stix_timestamp(created)
    obj: dict[str, Any] = {
        "type": "sighting",
        "spec_version": SPEC_VERSION,
        "id": sighting_id(indicator_id, publisher=publisher, report=report),
        "created_by_ref": publisher,
        "created": stamp,
        "modified": stamp,
        "sighting_of_ref": indicator_id,
        "count": count,
        "first_seen": stamp,
        "last_seen": stamp,
        REPORTED_PROPERTY: True,
    }
    parse_sighting(obj)
    return obj


def new_version(obj: Mapping[str, Any], *, modified: datetime, **changes: Any) -> dict[str, Any]:
    """The next version of ``obj``: same id, a later ``modified``, ``changes``
    applied (None removes a property), unsigned; checked as a peer's would be.
    A revoked object is final: STIX 2.1 allows it no new versions."""
    fixed = {"type", "spec_version", "id", "created", "created_by_ref", "modified"}
    if fixed & set(changes):
        raise StixError(f"a new version cannot change {', '.join(sorted(fixed & set(changes)))}")
    kind = obj.get("type")
    parse = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parse is None:
        raise StixError(f"no versions of {obj.get('type')!r} objects are made here")
    if obj.get("revoked") is True:
        raise StixError(f"{str(obj.get('id'))[:80]} is revoked: it gets no new versions")
    previous = props.timestamp(obj, "modified")
    stamp = stix_timestamp(modified)
    if props.read_timestamp("modified", stamp) <= previous:
        raise StixError("a new version's modified must be later than the last one's")
    version = {k: v for k, v in obj.items() if k != SIGNATURE_PROPERTY}
    version.update(changes, modified=stamp)
    version = {k: v for k, v in version.items() if v is not None}
    parse(version)
    return version


def revoke(obj: Mapping[str, Any], *, modified: datetime) -> dict[str, Any]:
    """The retraction of ``obj``: a new version with ``revoked: true``."""
    return new_version(obj, modified=modified, revoked=True)


def parse_identity(obj: Any) -> MemberIdentity:
    version = props.check_properties(
        obj, "identity", {"name", "identity_class"}, {"contact_information"}
    )
    if obj["identity_class"] != "organization":
        raise StixError("a member's identity_class is organization")
    contact = obj.get("contact_information")
    return MemberIdentity(
        id=obj["id"],
        name=props.text(obj, "name", NAME_CHARS, one_line=True),
        contact=None if contact is None else props.text(obj, "contact_information", NAME_CHARS * 5),
        created=version.created,
        modified=version.modified,
        revoked=version.revoked,
    )


def parse_indicator(obj: Any, *, foreign_labels: bool = False) -> SharedSignal:
    """The signal an Indicator shares, or StixError (see the module's docstring).

    With ``foreign_labels``, labels outside hashmatch's two prefixes (another
    producer's own, such as ``malicious-activity``) are ignored rather than
    refused: a pull from any TAXII server reads them so.  Inside the
    prefixes an unknown value is refused either way."""
    version = props.check_properties(
        obj,
        "indicator",
        {"created_by_ref", "pattern", "pattern_type", "valid_from"},
        {"name", "pattern_version", "valid_until", "labels"},
    )
    if obj["pattern_type"] != "stix":
        raise StixError(f"pattern_type must be stix, not {str(obj['pattern_type'])[:40]!r}")
    if obj.get("pattern_version", SPEC_VERSION) != SPEC_VERSION:
        raise StixError(f"pattern_version must be {SPEC_VERSION}")
    if "name" in obj:
        props.text(obj, "name", NAME_CHARS, one_line=True)
    if not isinstance(obj["pattern"], str):
        raise StixError("pattern must be a string")
    signal = parse_pattern(obj["pattern"])
    labels = obj.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise StixError("labels must be a list of strings")
    if "labels" in obj and not labels:
        raise StixError("labels must not be empty when given")
    classification, categories = _read_labels(labels, foreign=foreign_labels)
    valid_from = props.timestamp(obj, "valid_from")
    valid_until = props.timestamp(obj, "valid_until") if "valid_until" in obj else None
    if valid_until is not None and valid_until <= valid_from:
        raise StixError("valid_until must be later than valid_from")
    return SharedSignal(
        id=obj["id"],
        signal_type=signal.signal_type,
        value=signal.value,
        publisher=obj["created_by_ref"],
        labels=tuple(labels),
        classification=classification,
        categories=categories,
        revoked=version.revoked,
        created=version.created,
        modified=version.modified,
        valid_from=valid_from,
        valid_until=valid_until,
        key_id=signal.key_id,
    )


def parse_opinion(obj: Any) -> SharedOpinion:
    version = props.check_properties(
        obj, "opinion", {"created_by_ref", "opinion", "object_refs"}, {"explanation"}
    )
    verdict = _VERDICTS.get(obj["opinion"]) if isinstance(obj["opinion"], str) else None
    if verdict is None:
        raise StixError(f"opinion must be one of {', '.join(sorted(_VERDICTS))}")
    refs = obj["object_refs"]
    if not isinstance(refs, list) or len(refs) != 1:
        raise StixError("object_refs must name exactly one indicator")
    explanation = obj.get("explanation")
    return SharedOpinion(
        id=obj["id"],
        indicator_id=props.reference(refs[0], "indicator", "object_refs"),
        verdict=verdict,
        publisher=obj["created_by_ref"],
        explanation=None
        if explanation is None
        else props.text(obj, "explanation", DESCRIPTION_CHARS),
        created=version.created,
        modified=version.modified,
        revoked=version.revoked,
    )


def parse_sighting(obj: Any) -> SharedSighting:
    version = props.check_properties(
        obj,
        "sighting",
        {"created_by_ref", "sighting_of_ref"},
        {"count", "first_seen", "last_seen", REPORTED_PROPERTY},
    )
    count = obj.get("count", 1)
    if type(count) is not int or not 0 <= count <= MAX_SIGHTING_COUNT:
        raise StixError(f"count must be a whole number from 0 to {MAX_SIGHTING_COUNT:,}")
    reported = obj.get(REPORTED_PROPERTY, False)
    if not isinstance(reported, bool):
        raise StixError(f"{REPORTED_PROPERTY} must be true or false")
    first = props.timestamp(obj, "first_seen") if "first_seen" in obj else None
    last = props.timestamp(obj, "last_seen") if "last_seen" in obj else None
    if first is not None and last is not None and last < first:
        raise StixError("last_seen must not be earlier than first_seen")
    return SharedSighting(
        id=obj["id"],
        indicator_id=props.reference(obj["sighting_of_ref"], "indicator", "sighting_of_ref"),
        publisher=obj["created_by_ref"],
        count=count,
        reported=reported,
        first_seen=first,
        last_seen=last,
        created=version.created,
        modified=version.modified,
        revoked=version.revoked,
    )


_PARSERS: dict[str, Callable[[Any], object]] = {
    "identity": parse_identity,
    "indicator": parse_indicator,
    "opinion": parse_opinion,
    "sighting": parse_sighting,
}


def _read_labels(labels: list[str], *, foreign: bool = False) -> tuple[str | None, tuple[str, ...]]:
    """(classification, categories) from the labels; StixError for any other
    label, unless ``foreign`` (then another producer's labels are skipped)."""
    classifications = []
    categories = []
    ours = []
    for label in labels:
        if label.startswith(CLASSIFICATION_PREFIX):
            classifications.append(label.removeprefix(CLASSIFICATION_PREFIX))
        elif label.startswith(CATEGORY_PREFIX):
            categories.append(label.removeprefix(CATEGORY_PREFIX))
        elif foreign:
            continue
        else:
            raise StixError(
                f"unknown label {label[:60]!r}: labels are {CLASSIFICATION_PREFIX}<class> "
                f"and {CATEGORY_PREFIX}<category>"
            )
        ours.append(label)
    if len(set(ours)) != len(ours):
        raise StixError("labels repeat a label")
    if len(classifications) > 1:
        raise StixError("an indicator has at most one classification label")
    unknown = [c for c in classifications if c not in CLASSIFICATIONS] + [
        c for c in categories if c not in CATEGORIES
    ]
    if unknown:
        raise StixError(
            f"unknown classification or category {unknown[0][:40]!r}: classifications "
            f"{', '.join(CLASSIFICATIONS)}; categories {', '.join(CATEGORIES)}"
        )
    return (classifications[0] if classifications else None), tuple(sorted(categories))
