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

Why not python-threatexchange's ``NCMECHashAPI``: it is a development
dependency only, its requests session retries on its own and has no
per-page stall timeout nor address checks, and its parse fails a whole page
for one bad entry.  The wire facts here follow it and NCMEC's documentation.
"""

from __future__ import annotations

import base64
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from hashmatch.errors import ExchangeError, HashmatchError
from hashmatch.exchange.base import (
    Checkpoint,
    ExchangeSource,
    Malformed,
    Option,
    Page,
    PageError,
    Record,
    SourceConfig,
)
from hashmatch.exchange.http import PageClient
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
    )
    credentials_help = "user:password of NCMEC's hash sharing API"

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
