"""NCMEC's hash sharing API (v2, XML): entries a page at a time.

    hashmatch exchange add ncmec-test --type ncmec --bank ncmec \\
        --option environment=test_Industry --credentials-env NCMEC_CREDENTIALS

``GET {base}/v2/entries?from=...&to=...`` answers with ``images`` and
``videos``, each entry an ``image``/``video`` (or ``deletedImage``/
``deletedVideo``, a tombstone) with its ``id``, ``member`` (``id``
attribute, name as text), ``classification`` and ``fingerprints`` (``MD5``,
``SHA1``, ``PDQ``, ...), and ``paging/next``: the path of the next page
of the same time window, empty at its end.  A window is only complete once
its last page is read (entries do not come in time order), so the
checkpoint keeps the window with the next page's path; the next run asks
for a new window from the end of the last one.

MD5 and PDQ fingerprints are matched on; the others are kept in the
content's source metadata with the member and the classification (which
is also the content's label).  An entry's external id is ``<member
id>-<entry id>``: entry ids are per member.

Reviewers' opinions go back as feedback on each fingerprint the match was
by (``ncmec_feedback.py`` has the wire format): one PUT per fingerprint
type, the opinion sent once every one succeeded.  ``{espId}`` in the
feedback path is the entry's owner (the member id of its external id):
python-threatexchange's client leaves the choice to its caller since it
stopped filling in the caller's own id, which is the reading that fits;
NCMEC's documentation of it could not be read, so this is unconfirmed.  A
negative opinion gives the reason set by option ``negative_reason``, or
else the one NCMEC offers for that fingerprint type when it offers exactly
one (the list is asked for once per source object); otherwise it is
refused with the reasons NCMEC offers, to set one.  An opinion matched by
no NCMEC fingerprint (no signal types, say) is refused: feedback is per
fingerprint, and guessing which would speak for hashes nobody matched.

Why not python-threatexchange's ``NCMECHashAPI``: it is a development
dependency only, its requests session retries on its own and has no
per-page stall timeout nor address checks, and its parse fails a whole page
for one bad entry.  The wire facts here follow it and NCMEC's documentation.
"""

from __future__ import annotations

import base64
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from hashmatch.errors import ExchangeError, HashmatchError, InvalidFieldError
from hashmatch.exchange.base import (
    Checkpoint,
    ExchangeSource,
    Malformed,
    OpinionToSend,
    Option,
    Page,
    PageError,
    Record,
    Sent,
    SourceConfig,
)
from hashmatch.exchange.http import HttpStatusError, PageClient, retry_helps
from hashmatch.exchange.ncmec_feedback import (
    Reason,
    chosen_reason,
    entry_of,
    feedback_path,
    feedback_xml,
    parse_reasons,
    reason_choices,
    reasons_path,
)
from hashmatch.signals import get_signal_type

#: NCMEC's environments and where they are.
ENVIRONMENTS = {
    "Industry": "https://report.cybertip.org/hashsharing",
    "Industry_Exploitative": "https://report.cybertip.org/exploitative-hashsharing",
    "LawEnforcement": "https://lesp.ncmec.org/csam-hashsharing",
    "NGO": "https://hashsharing.ncmec.org/npo",
    "Exploitative": "https://hashsharing.ncmec.org/exploitative",
    "test_Industry": "https://exttest.cybertip.org/hashsharing",
    "test_Industry_Exploitative": "https://exttest.cybertip.org/exploitative-hashsharing",
    "test_LawEnforcement": "https://betalesp.ncmec.org/csam-hashsharing",
    "test_NGO": "https://hashsharing-test.ncmec.org/npo",
    "test_Exploitative": "https://hashsharing-test.ncmec.org/exploitative",
}
#: NCMEC fingerprint -> hashmatch signal type.
MATCHED = {"MD5": "md5", "PDQ": "pdq"}
#: hashmatch signal type -> NCMEC fingerprint type, as the feedback path spells it.
FEEDBACK_TYPES = {kind: fingerprint for fingerprint, kind in MATCHED.items()}
ENTRY_TAGS = {"image", "video", "deletedImage", "deletedVideo"}
_TIME = "%Y-%m-%dT%H:%M:%SZ"


def ncmec_time(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime(_TIME)


def _local(tag: str) -> str:
    """A tag without its namespace."""
    return tag.rpartition("}")[2]


class NcmecSource(ExchangeSource):
    name = "ncmec"
    hma_name = "ncmec"
    description = "NCMEC hash sharing (v2 XML API): MD5 and PDQ, with deletions."
    options = (
        Option("environment", f"One of {', '.join(ENVIRONMENTS)}.", "Industry"),
        Option("base_url", "Overrides the environment's address (a simulator's, say)."),
        Option("start_timestamp", "Unix time of the first entries to fetch.", "0"),
        Option(
            "negative_reason",
            "NCMEC's reason GUID for negative feedback, or TYPE=GUID pairs "
            "(PDQ=<guid>,MD5=<guid>); empty: the reason NCMEC offers, when it offers one.",
        ),
    )
    credentials_help = "user:password of NCMEC's hash sharing API"
    takes_opinions = True
    #: Each opinion is a PUT per fingerprint type, so a batch is up to ~100 requests.
    opinion_batch = 50

    def __init__(self, config: SourceConfig, http: PageClient) -> None:
        super().__init__(config, http)
        user, password = config.credential_pair("NCMEC", "user:password")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Accept": "application/xml"}
        http.secrets += (token,)
        environment = config.option("environment")
        if environment not in ENVIRONMENTS:
            raise ExchangeError(f"unknown NCMEC environment {environment!r}")
        self.base_url = (config.option("base_url") or ENVIRONMENTS[environment]).rstrip("/")
        try:
            self.negative_reasons = reason_choices(config.option("negative_reason"))
        except InvalidFieldError as error:
            raise ExchangeError(str(error)) from None
        #: NCMEC's reasons per fingerprint type, asked for once.
        self.offered_reasons: dict[str, tuple[Reason, ...]] = {}

    @classmethod
    def check_options(cls, options: Mapping[str, str]) -> None:
        environment = options.get("environment")
        if environment is not None and environment not in ENVIRONMENTS:
            raise InvalidFieldError(
                f"unknown NCMEC environment {environment!r}; one of {', '.join(ENVIRONMENTS)}"
            )
        reason_choices(options.get("negative_reason") or "")

    def fetch_page(self, checkpoint: Checkpoint) -> Page:
        now = int(time.time())
        if checkpoint is None:
            window = {"from": int(self.config.option("start_timestamp") or 0), "to": now}
        elif checkpoint.get("next"):
            window = {"from": checkpoint["from"], "to": checkpoint["to"]}
        else:
            window = {"from": checkpoint["to"], "to": now}
            if window["from"] >= now:
                return Page([], checkpoint, more=False)
        path = (checkpoint or {}).get("next") or (
            f"/v2/entries?from={ncmec_time(window['from'])}&to={ncmec_time(window['to'])}"
        )
        root = _xml(self.http.get(self.base_url + path, self.headers))
        next_path = (root.findtext("paging/next") or "").strip() or None
        items = [
            _entry(element)
            for container in ("images", "videos")
            for parent in root.findall(container)
            for element in parent
        ]
        return Page(items, {**window, "next": next_path}, more=next_path is not None)

    def send_opinions(self, opinions: Sequence[OpinionToSend]) -> list[Sent]:
        return [self._send_opinion(opinion) for opinion in opinions]

    def _send_opinion(self, opinion: OpinionToSend) -> Sent:
        """One opinion as feedback on each NCMEC fingerprint it matched by."""
        try:
            esp_id, entry_id = entry_of(opinion.external_id)
            if opinion.opinion not in ("positive", "negative"):
                raise ValueError(f"NCMEC takes no {opinion.opinion!r} opinion")
            fingerprints = sorted(
                {FEEDBACK_TYPES[kind] for kind in opinion.signal_types if kind in FEEDBACK_TYPES}
            )
            if not fingerprints:
                raise ValueError(
                    "the opinion names no fingerprint NCMEC takes feedback on (MD5, PDQ); "
                    f"it matched by {', '.join(opinion.signal_types) or 'none'}"
                )
            for fingerprint in fingerprints:
                reason = (
                    self._negative_reason(fingerprint) if opinion.opinion == "negative" else None
                )
                url = self.base_url + feedback_path(esp_id, entry_id, fingerprint)
                headers = {**self.headers, "Content-Type": "application/xml; charset=utf-8"}
                self.http.send("PUT", url, feedback_xml(negative_reason=reason), headers)
        except ValueError as error:
            return Sent(opinion.id, str(error), retry=False)
        except HttpStatusError as error:
            return Sent(opinion.id, self.http.refusal(error), retry=retry_helps(error))
        except ExchangeError as error:  # a stall, a refused connection, unreadable reasons
            return Sent(opinion.id, str(error), retry=True)
        return Sent(opinion.id)

    def _negative_reason(self, fingerprint: str) -> str:
        """The reason GUID negative feedback on ``fingerprint`` gives (ValueError
        when none can be chosen, ExchangeError when NCMEC's list cannot be had)."""
        return chosen_reason(self.negative_reasons, fingerprint, lambda: self._offered(fingerprint))

    def _offered(self, fingerprint: str) -> tuple[Reason, ...]:
        if fingerprint not in self.offered_reasons:
            body = self.http.get(self.base_url + reasons_path(fingerprint), self.headers)
            self.offered_reasons[fingerprint] = parse_reasons(body)
        return self.offered_reasons[fingerprint]


def _xml(body: bytes) -> ET.Element:
    try:
        root = ET.fromstring(body)
    except ET.ParseError as error:
        raise PageError(f"the page is not well-formed XML ({error})") from None
    for element in root.iter():
        if element.tag[0] == "{":
            element.tag = _local(element.tag)
    return root


def _entry(element: ET.Element) -> Record | Malformed:
    try:
        return _record(element)
    except (HashmatchError, ValueError, KeyError) as error:
        sample = ET.tostring(element, encoding="unicode")
        return Malformed(f"NCMEC entry: {error}", sample)


def _record(element: ET.Element) -> Record:
    if element.tag not in ENTRY_TAGS:
        raise ValueError(f"unknown element <{element.tag}>")
    # One pass over the children: ElementTree's path lookups cost more than
    # the rest of reading an entry.
    entry_id, classification, member = "", None, None
    fingerprints: list[ET.Element] = []
    for child in element:
        if child.tag == "id":
            entry_id = (child.text or "").strip()
        elif child.tag == "member":
            member = child
        elif child.tag == "classification":
            classification = (child.text or "").strip() or None
        elif child.tag == "fingerprints":
            fingerprints = list(child)
    if not entry_id or member is None:
        raise ValueError("an entry needs its id and member")
    member_id = int(member.attrib["id"])
    external_id = f"{member_id}-{entry_id}"
    if element.tag.startswith("deleted"):
        return Record(external_id, deleted=True)
    signals: dict[str, str] = {}
    other: dict[str, str] = {}
    for fingerprint in fingerprints:
        value = (fingerprint.text or "").strip()
        if not value:
            continue
        kind = MATCHED.get(fingerprint.tag)
        if kind is None:
            other[fingerprint.tag.lower()] = value
        else:
            signals[kind] = get_signal_type(kind).parse(value)
    metadata: dict[str, Any] = {
        "ncmec": {
            "member_id": member_id,
            "member_name": (member.text or "").strip(),
            "classification": classification,
            "entry_type": element.tag,
            **({"fingerprints": other} if other else {}),
        }
    }
    return Record(external_id, signals, [classification] if classification else [], metadata)
