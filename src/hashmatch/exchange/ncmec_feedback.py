"""NCMEC feedback on the wire: where it goes, the XML sent, the reasons
NCMEC offers for a negative one, and which reason an exchange is set to give.

    esp_id, entry_id = entry_of("42-image-7")            # ("42", "image-7")
    path = feedback_path(esp_id, entry_id, "PDQ")         # /v2/entries/42/image-7/PDQ/feedback
    body = feedback_xml(negative_reason="01234567-abcd-0123-4567-012345678900")
    reasons = parse_reasons(answer_to_get_reasons)        # (Reason(guid, name, type), ...)

``PUT {base}/v2/entries/{espId}/{entryId}/{FINGERPRINT_TYPE}/feedback``
takes ``<feedbackSubmission xmlns="https://hashsharing.ncmec.org/hashsharing/v2">``
with an empty ``<affirmative/>`` (positive) or ``<negative><reasonIds>
<guid>GUID</guid></reasonIds></negative>`` (negative);
``GET {base}/v2/feedback/{FINGERPRINT_TYPE}/reasons`` answers
``availableFeedbackReasons`` (as the root, or as a child of it: the
documentation and python-threatexchange's client disagree) holding
``reason`` elements with ``guid``, ``name`` and ``type`` attributes
(docs/research/exchange-feedback.md, section 1).

Reasons are read with lxml resolving no entities, fetching nothing and
keeping its size limits, and an answer with a DOCTYPE is refused, as
NCMEC's CyberTipline answers are (``reporting/cybertip/responses.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from lxml import etree

from hashmatch.errors import ExchangeError, InvalidFieldError
from hashmatch.net import excerpt
from hashmatch.untrusted_xml import UntrustedXmlError, parse_untrusted

NAMESPACE = "https://hashsharing.ncmec.org/hashsharing/v2"
REASONS_ROOT = "availableFeedbackReasons"
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason NCMEC offers for negative feedback on a fingerprint type."""

    guid: str
    name: str
    type: str

    def __str__(self) -> str:
        return f"{excerpt(self.name.encode()) or '(unnamed)'} ({self.guid})"


def entry_of(external_id: str) -> tuple[str, str]:
    """The member (ESP) id and entry id an external id ``<member id>-<entry
    id>`` names (entry ids may hold ``-``); ValueError when it names none."""
    member_id, dash, entry_id = external_id.partition("-")
    if not (dash and member_id.isascii() and member_id.isdigit() and entry_id):
        raise ValueError(f"external id {external_id!r} is not NCMEC's <member id>-<entry id>")
    return member_id, entry_id


def feedback_path(esp_id: str, entry_id: str, fingerprint_type: str) -> str:
    """The path feedback on one fingerprint of one entry is PUT to."""
    return f"/v2/entries/{esp_id}/{quote(entry_id, safe='')}/{fingerprint_type}/feedback"


def reasons_path(fingerprint_type: str) -> str:
    return f"/v2/feedback/{fingerprint_type}/reasons"


def feedback_xml(*, negative_reason: str | None = None) -> bytes:
    """The ``feedbackSubmission`` body: affirmative, or negative with the
    reason GUID ``negative_reason``."""
    root = etree.Element(f"{{{NAMESPACE}}}feedbackSubmission", nsmap={None: NAMESPACE})
    if negative_reason is None:
        etree.SubElement(root, f"{{{NAMESPACE}}}affirmative")
    else:
        negative = etree.SubElement(root, f"{{{NAMESPACE}}}negative")
        reason_ids = etree.SubElement(negative, f"{{{NAMESPACE}}}reasonIds")
        etree.SubElement(reason_ids, f"{{{NAMESPACE}}}guid").text = negative_reason
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def parse_reasons(body: bytes) -> tuple[Reason, ...]:
    """The reasons in an ``availableFeedbackReasons`` answer; ExchangeError
    when the answer is not one."""
    try:
        root = parse_untrusted(body)
    except UntrustedXmlError as why:
        raise _unreadable(body, str(why)) from None
    holder = root if _local(root.tag) == REASONS_ROOT else None
    if holder is None:
        holder = next((child for child in root if _local(child.tag) == REASONS_ROOT), None)
    if holder is None:
        raise _unreadable(body, f"has no <{REASONS_ROOT}>")
    reasons = []
    for element in holder:
        if _local(element.tag) != "reason":
            continue
        guid = (element.get("guid") or "").strip()
        if not guid:
            raise _unreadable(body, "has a reason without its guid")
        reasons.append(Reason(guid, element.get("name") or "", element.get("type") or ""))
    return tuple(reasons)


def reason_choices(text: str) -> dict[str, str]:
    """The ``negative_reason`` option read: ``GUID`` (for every fingerprint
    type, key ``*``) or ``TYPE=GUID`` pairs separated by commas (``MD5=...,
    PDQ=...``: NCMEC's reasons differ by fingerprint type); empty: none.
    InvalidFieldError for anything else."""
    choices: dict[str, str] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        kind, equals, guid = part.rpartition("=")
        kind = kind.strip().upper() if equals else "*"
        guid = guid.strip()
        if not _GUID.fullmatch(guid):
            raise InvalidFieldError(
                f"option negative_reason: {guid!r} is not a GUID "
                "(give NCMEC's reason GUID, or TYPE=GUID pairs such as PDQ=<guid>,MD5=<guid>)"
            )
        if not kind or kind in choices:
            raise InvalidFieldError(
                f"option negative_reason: {part!r} names no fingerprint type or one given twice"
            )
        choices[kind] = guid
    return choices


def chosen_reason(
    choices: Mapping[str, str],
    fingerprint_type: str,
    offered: Callable[[], tuple[Reason, ...]],
) -> str:
    """The reason GUID configured for ``fingerprint_type``, else the only one
    NCMEC offers (``offered`` is asked only then).  ValueError, saying what to
    set, when there is no single reason to give."""
    configured = choices.get(fingerprint_type) or choices.get("*")
    if configured:
        return configured
    reasons = offered()
    if len(reasons) == 1:
        return reasons[0].guid
    listed = ", ".join(str(reason) for reason in reasons) or "none"
    raise ValueError(
        f"negative feedback on {fingerprint_type} needs a reason: set --option "
        f"negative_reason=<guid> (or {fingerprint_type}=<guid>); NCMEC offers: {listed}"
    )


def _local(tag: object) -> str:
    """An element's tag without its namespace ("" for a comment)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _unreadable(body: bytes, what: str) -> ExchangeError:
    shown = excerpt(body)
    return ExchangeError(
        f"NCMEC's feedback reasons {what}: " + (repr(shown) if shown else "(empty)")
    )
