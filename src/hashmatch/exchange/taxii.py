"""TAXII 2.1 collections as exchanges: a hashmatch hub's, or any TAXII server's.

    hashmatch exchange add hub-hashes --type taxii --bank shared \\
        --option url=https://hub.example/taxii2/api/ --option collection=<id> \\
        --option directory_url=https://hub.example/v1/hub/members \\
        --option signing_key_file=/etc/hashmatch/member.pem \\
        --option identity=identity--... --credentials-env HUB_KEY

A page is ``GET {url}/collections/{collection}/objects/?limit=&added_after=&next=``
(``Accept: application/taxii+json;version=2.1``), an envelope ``{"more",
"next", "objects"}``; its Indicators become records
(:mod:`hashmatch.exchange.taxii_records`).  The checkpoint is the query's
``added_after`` with the server's ``next`` while ``more``, and, at the end
of the pages, the answer's ``X-TAXII-Date-Added-Last`` as the next
``added_after``: so a run killed after any page asks again for exactly the
page after it.

Credentials are ``username:password`` (HTTP Basic) or one API key (``Bearer``,
as a hashmatch hub takes its members' keys).

Opinions go back as signed STIX Opinions (``agree`` for a confirmed match,
``disagree`` for a false positive) POSTed to the same collection in one
envelope per batch; they need the member's key (``signing_key_file``) and
Identity (``identity``).  A ``reported`` opinion (a filed CyberTipline report
matched the indicator: ``exchange/reported.py``) goes as a signed STIX
Sighting flagged ``x_hashmatch_reported``, its id derived from the report's,
so sending it again sends the same object.  The status resource the server answers says which
objects it refused: those opinions fail with its message.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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
)
from hashmatch.exchange.http import HttpStatusError, retry_helps
from hashmatch.exchange.reported import REPORTED
from hashmatch.exchange.taxii_records import VERIFY_MODES, IndicatorReader, trusted_keys
from hashmatch.hub import stix_properties as props
from hashmatch.hub.canonical import parse_json
from hashmatch.hub.keys import parse_private_key
from hashmatch.hub.signing import TrustedKey, sign
from hashmatch.hub.stix import build_opinion, build_sighting
from hashmatch.store.models import utcnow

MEDIA_TYPE = "application/taxii+json;version=2.1"
DATE_ADDED_LAST = "X-TAXII-Date-Added-Last"
#: hashmatch's opinion -> the verdict a STIX Opinion says.
VERDICTS = {"positive": "confirmed", "negative": "false_positive"}
CREDENTIALS_HELP = "username:password (HTTP Basic), or an API key (Bearer)"
#: A TAXII server's "authenticated, but not allowed": why comes in its error message.
FORBIDDEN = 403
NOT_FOUND = 404


def authorization(credentials: str | None) -> dict[str, str]:
    """The Authorization header for the exchange's credentials."""
    if not credentials:
        return {}
    if ":" in credentials:
        return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}
    return {"Authorization": f"Bearer {credentials}"}


def status_failures(body: bytes) -> dict[str, str]:
    """The object ids a TAXII status resource says failed, with why; PageError
    when the answer is not a status resource."""
    try:
        status = parse_json(body)
        failures = status.get("failures", [])
        return {str(item["id"]): str(item.get("message") or "refused") for item in failures}
    except (HashmatchError, KeyError, TypeError, AttributeError):
        raise PageError("the answer to the POST is not a TAXII status resource") from None


class TaxiiSource(ExchangeSource):
    name = "taxii"
    description = "STIX 2.1 Indicators from a TAXII 2.1 collection (a hashmatch hub or any server)."
    options = (
        Option("url", "The TAXII API root (https://hub.example/taxii2/api/).", required=True),
        Option("collection", "The collection's id.", required=True),
        Option("page_size", "Objects asked for per page (limit).", "1000"),
        Option(
            "verify_signatures",
            "auto (verify the objects that carry x_hashmatch_signature), required, or off.",
            "auto",
        ),
        Option(
            "directory_url",
            "The member directory with signing keys: the hub's /v1/hub/members, or a JSON file.",
        ),
        Option("signing_key_file", "The member's Ed25519 private key (PEM), to sign opinions."),
        Option("identity", "The member's STIX Identity id (identity--...), opinions' creator."),
    )
    credentials_help = CREDENTIALS_HELP
    takes_opinions = True
    opinion_batch = 100
    takes_reports = True

    @classmethod
    def check_options(cls, options: Mapping[str, str]) -> None:
        mode = options.get("verify_signatures") or "auto"
        if mode not in VERIFY_MODES:
            raise InvalidFieldError(f"option verify_signatures is one of {', '.join(VERIFY_MODES)}")
        if options.get("identity"):
            try:
                props.reference(options["identity"], "identity", "identity")
            except HashmatchError as error:
                raise InvalidFieldError(f"option identity: {error}") from None
        if not (options.get("page_size") or "1").isdigit():
            raise InvalidFieldError("option page_size is a whole number")

    # -- pulling -------------------------------------------------------------

    @property
    def headers(self) -> dict[str, str]:
        return {"Accept": MEDIA_TYPE, **authorization(self.config.credentials)}

    @property
    def objects_url(self) -> str:
        root = self.config.option("url").rstrip("/")
        return f"{root}/collections/{quote(self.config.option('collection'), safe='')}/objects/"

    @cached_property
    def reader(self) -> IndicatorReader:
        mode = self.config.option("verify_signatures") or "auto"
        return IndicatorReader(mode, self._directory, now=utcnow())

    def fetch_page(self, checkpoint: Checkpoint) -> Page:
        added_after, cursor = (checkpoint or {}).get("added_after"), (checkpoint or {}).get("next")
        params = {"limit": self.config.option("page_size") or "1000", "match[type]": "indicator"}
        if added_after:
            params["added_after"] = added_after
        if cursor:
            params["next"] = cursor
        try:
            body, headers = self.http.exchange(
                "GET", f"{self.objects_url}?{urlencode(params)}", None, self.headers
            )
        except HttpStatusError as error:
            if error.status != FORBIDDEN:
                raise
            raise PageError(self._forbidden(error), retry=False) from None
        objects, more, next_cursor = _envelope(body)
        last = headers.get(DATE_ADDED_LAST)
        if more and next_cursor:
            after: Checkpoint = {"added_after": added_after, "next": next_cursor}
        elif more and not last:
            raise PageError(f"the page says more but gives neither next nor {DATE_ADDED_LAST}")
        else:
            after = {"added_after": last or added_after, "next": None}
        items: list[Record | Malformed] = []
        for obj in objects:
            item = self.reader.item(obj)
            if item is not None:
                items.append(item)
        return Page(items, after, more)

    def _forbidden(self, error: HttpStatusError) -> str:
        """Why the server refused the pull, in its own words: a hub says the
        member is suspended or lapsed (and the reason it was given), or has
        no grant on the collection; not a matter of credentials."""
        try:
            why = " ".join(str(parse_json(error.body)["description"]).split())
        except (HashmatchError, KeyError, TypeError):  # not a TAXII error message
            return self.http.refusal(error)
        return f"{error}: {self.http.redact(why)}"

    def _directory(self) -> Mapping[str, TrustedKey]:
        where = self.config.option("directory_url")
        if not where:
            raise PageError(
                "signed objects and no directory_url to verify them against", retry=False
            )
        try:
            if where.startswith(("http://", "https://")):
                text = self.http.get(where, self.headers)
            else:
                text = Path(where.removeprefix("file://")).read_bytes()
            return trusted_keys(parse_json(text))
        except (OSError, ValueError) as error:
            raise PageError(f"member directory {where}: {error}", retry=False) from None

    def latest_version(self, object_id: str) -> dict[str, Any] | None:
        """The newest version of one object in the collection (None when the
        server has none by that id)."""
        url = f"{self.objects_url}{quote(object_id, safe='')}/"
        try:
            body = self.http.get(url, self.headers)
        except HttpStatusError as error:
            if error.status == NOT_FOUND:
                return None
            raise ExchangeError(self.http.refusal(error)) from None
        objects = _envelope(body)[0]
        versions = [obj for obj in objects if isinstance(obj, dict) and obj.get("id") == object_id]
        try:
            return max(versions, key=lambda obj: props.timestamp(obj, "modified"), default=None)
        except HashmatchError as error:
            raise ExchangeError(f"the server's {object_id[:80]} is not STIX: {error}") from None

    # -- posting -------------------------------------------------------------

    def post_objects(self, objects: Sequence[dict[str, Any]]) -> dict[str, str]:
        """POST one envelope; the ids the server refused, with why."""
        body = json.dumps({"objects": list(objects)}).encode()
        headers = {**self.headers, "Content-Type": MEDIA_TYPE}
        return status_failures(self.http.send("POST", self.objects_url, body, headers))

    def signer(self) -> tuple[Ed25519PrivateKey, str]:
        """The member's signing key and Identity (options), or ExchangeError."""
        path, identity = self.config.option("signing_key_file"), self.config.option("identity")
        if not (path and identity):
            raise ExchangeError(
                "sending to a TAXII collection needs options signing_key_file and identity"
            )
        try:
            return parse_private_key(Path(path).read_text()), identity
        except OSError as error:
            raise ExchangeError(f"signing_key_file {path}: {error.strerror}") from None

    def send_opinions(self, opinions: Sequence[OpinionToSend]) -> list[Sent]:
        try:
            key, identity = self.signer()
        except ExchangeError as error:
            return [Sent(opinion.id, str(error)) for opinion in opinions]
        answers: list[Sent] = []
        # Opinions that become one object (two decisions on one indicator)
        # go as one: the last of them, answered for all.
        batch: list[tuple[str, OpinionToSend]] = []
        objects: dict[str, dict[str, Any]] = {}
        for opinion in opinions:
            try:
                obj = sign(_opinion(opinion, identity, utcnow()), key)
            except HashmatchError as error:
                answers.append(Sent(opinion.id, str(error), retry=False))
                continue
            batch.append((obj["id"], opinion))
            objects[obj["id"]] = obj
        if not objects:
            return answers
        try:
            failures = self.post_objects(list(objects.values()))
        except HttpStatusError as error:
            why, retry = self.http.refusal(error), retry_helps(error)
            return answers + [Sent(o.id, why, retry=retry) for _, o in batch]
        except ExchangeError as error:  # a stall, a refused connection, no status resource
            return answers + [Sent(o.id, str(error)) for _, o in batch]
        return answers + [
            Sent(o.id, failures[oid], retry=False) if oid in failures else Sent(o.id)
            for oid, o in batch
        ]


def _opinion(opinion: OpinionToSend, identity: str, now: datetime) -> dict[str, Any]:
    """The STIX object an opinion goes as: an Opinion, or for ``reported`` a Sighting."""
    if opinion.opinion == REPORTED:
        if opinion.report_id is None:
            raise InvalidFieldError("a reported opinion names no report")
        return build_sighting(
            opinion.external_id, publisher=identity, created=now, report=str(opinion.report_id)
        )
    verdict = VERDICTS.get(opinion.opinion)
    if verdict is None:
        raise InvalidFieldError(f"a TAXII collection takes no {opinion.opinion!r} opinion")
    return build_opinion(opinion.external_id, verdict, publisher=identity, created=now)


def _envelope(body: bytes) -> tuple[list[Any], bool, str | None]:
    """(objects, more, next) of a TAXII envelope, or PageError."""
    try:
        envelope = parse_json(body)
    except HashmatchError as error:
        raise PageError(f"the page is not a TAXII envelope: {error}") from None
    if not isinstance(envelope, dict):
        raise PageError("the page is not a TAXII envelope (a JSON object)")
    objects, more, cursor = envelope.get("objects", []), envelope.get("more", False), None
    if "next" in envelope:
        cursor = envelope["next"]
    if not isinstance(objects, list) or not isinstance(more, bool):
        raise PageError("the envelope's objects is not a list or more is not true/false")
    if cursor is not None and not isinstance(cursor, str):
        raise PageError("the envelope's next is not a string")
    return objects, more, cursor
