"""What a CyberTipline report says, gathered from where it is known: the
settings (who reports), the submissions (when, where, by whom, and the
metadata keys of docs/reporting.md), the review items (classification,
annotations, whether a reviewer saw the file), the platform's additional-info
webhook, and what a person set on the form.

    details = check_details({"screen_name": "someone", "urls": ["https://example.com/p/1"]})
    content = report_content(settings, submissions, details)
    xml = report_xml(content)

Later sources win for single values (metadata < webhook answer < form) and
add to lists (URLs, emails, IP capture events).  The webhook is asked once,
when the report is drafted; its answer (or why there was none) is kept in
the report's details, so the report filed is the report previewed.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hashmatch import __version__
from hashmatch.errors import FetchError, InvalidFieldError, ReportingError
from hashmatch.fieldlimits import check_text
from hashmatch.net import checked_address, cut_off_at, http_target, pinned_connection, reason
from hashmatch.reporting.cybertip.content import (
    IP_EVENT_NAMES,
    FileContent,
    IpCaptureEvent,
    Person,
    ReportContent,
    ReportedUser,
    Reporter,
)
from hashmatch.reporting.cybertip.schema import SEQUENCES
from hashmatch.store.models import as_utc
from hashmatch.webhooks import SIGNATURE_HEADER, signature_header

if TYPE_CHECKING:
    from hashmatch.settings import Settings
    from hashmatch.store.reporting_models import CybertipFile
    from hashmatch.store.workflow import Submission

#: What describes the reported user, wherever it comes from.
USER_KEYS = ("screen_name", "display_name", "emails", "profile_url", "ip_events")
#: What the form may set: the user keys and these.
FORM_KEYS = (*USER_KEYS, "urls", "annotations", "additional_info", "publicly_available")
#: Keys the report keeps beside the form's: the webhook's answer and warnings.
PLATFORM_ANSWER = "from_platform"
WARNINGS = "warnings"
#: ``reportAnnotations`` names NCMEC knows.
REPORT_ANNOTATIONS = SEQUENCES["reportAnnotations"]
TEXT_CHARS = 2000
MAX_LIST = 100
#: The longest name a reported file is given (the end of a longer one is kept).
MAX_FILE_NAME = 200
#: The most of the additional-info webhook's answer that is read.
MAX_ANSWER_BYTES = 64 * 1024


def check_details(
    details: Mapping[str, Any] | None, *, keys: Sequence[str] = FORM_KEYS
) -> dict[str, Any]:
    """The form's details, checked and normalised to JSON values;
    ReportingError naming the field that is wrong."""
    checked: dict[str, Any] = {}
    for key, value in (details or {}).items():
        if key not in keys:
            raise ReportingError(f"details.{key}: not a report detail (known: {', '.join(keys)})")
        if value is None:
            continue
        field = f"details.{key}"
        if key in ("urls", "emails", "annotations"):
            texts = [_text(f"{field}[{n}]", item) for n, item in enumerate(_list(field, value))]
            if key == "annotations":
                for name in texts:
                    if name not in REPORT_ANNOTATIONS:
                        raise ReportingError(
                            f"{field}: {name!r} is not one of {', '.join(REPORT_ANNOTATIONS)}"
                        )
            checked[key] = texts
        elif key == "ip_events":
            checked[key] = [
                _ip_event(f"{field}[{n}]", item) for n, item in enumerate(_list(field, value))
            ]
        elif key == "publicly_available":
            if not isinstance(value, bool):
                raise ReportingError(f"{field}: true or false")
            checked[key] = value
        else:
            checked[key] = _text(field, value)
    return checked


def _list(field: str, value: Any) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise ReportingError(f"{field}: a list")
    if len(value) > MAX_LIST:
        raise ReportingError(f"{field}: at most {MAX_LIST} entries")
    return list(value)


def _text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ReportingError(f"{field}: text")
    try:
        return check_text(field, value.strip(), max_chars=TEXT_CHARS, one_line=True)
    except InvalidFieldError as error:
        raise ReportingError(str(error)) from None


def _ip_event(field: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ReportingError(f"{field}: an object with ip_address, event_name, at, port")
    unknown = set(value) - {"ip_address", "event_name", "at", "port"}
    if unknown:
        raise ReportingError(f"{field}: unknown keys {', '.join(sorted(unknown))}")
    address = _text(f"{field}.ip_address", value.get("ip_address"))
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise ReportingError(f"{field}.ip_address: {address!r} is not an IP address") from None
    event_name = value.get("event_name") or "Upload"
    if event_name not in IP_EVENT_NAMES:
        raise ReportingError(f"{field}.event_name: one of {', '.join(IP_EVENT_NAMES)}")
    at = value.get("at")
    if at is not None:
        try:
            at = as_utc(datetime.fromisoformat(_text(f"{field}.at", at))).isoformat()
        except ValueError:
            raise ReportingError(f"{field}.at: an ISO 8601 date and time") from None
    port = value.get("port")
    if port is not None and (
        not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536
    ):
        raise ReportingError(f"{field}.port: a port number (1-65535)")
    return {"ip_address": address, "event_name": event_name, "at": at, "port": port}


# -- the reporter, from the settings ---------------------------------------------------


def reporter_of(settings: Settings) -> Reporter:
    """The platform as reporter; ReportingError naming the settings to set."""
    required = (
        "cybertip_reporter_first_name",
        "cybertip_reporter_last_name",
        "cybertip_reporter_email",
    )
    missing = [name for name in required if not getattr(settings, name).strip()]
    if missing:
        raise ReportingError("set " + ", ".join(missing) + " before reporting to the CyberTipline")
    contact = Person(
        settings.cybertip_contact_first_name,
        settings.cybertip_contact_last_name,
        settings.cybertip_contact_email,
        settings.cybertip_contact_phone,
    )
    return Reporter(
        person=Person(
            settings.cybertip_reporter_first_name,
            settings.cybertip_reporter_last_name,
            settings.cybertip_reporter_email,
            settings.cybertip_reporter_phone,
        ),
        contact=contact if any((contact.first_name, contact.last_name, contact.email)) else None,
        terms_of_service=settings.cybertip_terms_of_service,
        legal_url=settings.cybertip_legal_url,
    )


# -- the report and its files ------------------------------------------------------------


def user_from_metadata(submissions: Iterable[Submission]) -> dict[str, Any]:
    """The user keys the submissions' metadata carries (docs/reporting.md):
    the first value of each single key, every value of each list."""
    found: dict[str, Any] = {}
    for submission in submissions:
        metadata = submission.extra or {}
        plural = {**metadata}
        if "email" in metadata:
            plural["emails"] = [metadata["email"], *metadata.get("emails", [])]
        if "ip_address" in metadata and "ip_events" not in metadata:
            plural["ip_events"] = [{"ip_address": metadata["ip_address"], "event_name": "Upload"}]
        try:
            values = check_details(
                {key: plural[key] for key in USER_KEYS if key in plural}, keys=USER_KEYS
            )
        except ReportingError:
            continue  # the platform's metadata is a hint; a malformed one is left out
        found = merged(values, found)
    return found


def merged(later: Mapping[str, Any], earlier: Mapping[str, Any]) -> dict[str, Any]:
    """``earlier`` with ``later`` on top: single values replaced, lists added to."""
    result = dict(earlier)
    for key, value in later.items():
        if isinstance(value, list):
            result[key] = [
                *result.get(key, []),
                *(item for item in value if item not in result.get(key, [])),
            ]
        else:
            result[key] = value
    return result


def user_details(submissions: Sequence[Submission], details: Mapping[str, Any]) -> dict[str, Any]:
    """The reported user, every source merged: metadata < webhook < form."""
    platform = details.get(PLATFORM_ANSWER) or {}
    form = {key: value for key, value in details.items() if key in USER_KEYS}
    return merged(form, merged(platform, user_from_metadata(submissions)))


def report_content(
    settings: Settings, submissions: Sequence[Submission], details: Mapping[str, Any]
) -> ReportContent:
    """The report (``/submit``) for these submissions and the report's details."""
    user = user_details(submissions, details)
    user_refs = sorted({s.user_ref for s in submissions if s.user_ref})
    times = [as_utc(s.uploaded_at or s.created_at) for s in submissions]
    urls = [s.content_url for s in submissions if s.content_url]
    return ReportContent(
        incident_type=settings.cybertip_incident_type,
        incident_at=min(times),
        reporter=reporter_of(settings),
        reported_user=ReportedUser(
            esp_identifier=user_refs[0] if user_refs else "",
            screen_name=user.get("screen_name", ""),
            display_name=user.get("display_name", ""),
            emails=tuple(user.get("emails", ())),
            profile_url=user.get("profile_url", ""),
            ip_events=tuple(ip_event(event) for event in user.get("ip_events", ())),
        ),
        urls=tuple(dict.fromkeys([*urls, *details.get("urls", [])])),
        annotations=tuple(details.get("annotations", ())),
        additional_info=details.get("additional_info", ""),
    )


def ip_event(values: Mapping[str, Any]) -> IpCaptureEvent:
    at = values.get("at")
    return IpCaptureEvent(
        ip_address=values["ip_address"],
        event_name=values.get("event_name") or "Upload",
        at=datetime.fromisoformat(at) if at else None,
        port=values.get("port"),
    )


def file_name_of(submission: Submission, kept_name: str | None) -> str:
    """The name a reported file goes by: the metadata's ``file_name``, the
    name it was uploaded with, or the submission's number; its last path
    part only, printable, at most MAX_FILE_NAME characters."""
    named = (submission.extra or {}).get("file_name")
    name = named if isinstance(named, str) and named.strip() else kept_name or ""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c if c.isprintable() else "_" for c in name).strip()
    return name[-MAX_FILE_NAME:] if name not in ("", ".", "..") else f"submission-{submission.id}"


def publicly_available_of(submission: Submission, details: Mapping[str, Any]) -> bool | None:
    """The form's answer, else the submission's metadata, else unknown."""
    if "publicly_available" in details:
        return bool(details["publicly_available"])
    value = (submission.extra or {}).get("publicly_available")
    return value if isinstance(value, bool) else None


def file_content(row: CybertipFile, submission: Submission, ncmec_report_id: str) -> FileContent:
    """One uploaded file's ``fileDetails``."""
    address = (submission.extra or {}).get("ip_address")
    events: tuple[IpCaptureEvent, ...] = ()
    if isinstance(address, str):
        try:
            ipaddress.ip_address(address)
        except ValueError:
            pass
        else:
            events = (IpCaptureEvent(address, "Upload", at=submission.uploaded_at),)
    return FileContent(
        report_id=ncmec_report_id,
        file_id=row.ncmec_file_id or "",
        original_file_name=row.filename,
        md5=row.md5,
        sha256=row.sha256,
        classification=row.classification,
        viewed_by_esp=row.viewed_by_esp,
        publicly_available=row.publicly_available,
        uploaded_at=submission.uploaded_at,
        annotations=tuple(row.annotations),
        ip_events=events,
    )


# -- the platform's additional-info webhook --------------------------------------------------


def ask_platform(
    settings: Settings, user_ref: str | None, items: Sequence[tuple[str, int]]
) -> dict[str, Any]:
    """What the platform's additional-info webhook says of the user: a dict
    with ``from_platform`` (its checked answer) or ``warnings`` (why there is
    none); empty when no webhook is set.  Never raises: a report goes on
    with what it has."""
    url = settings.cybertip_additional_info_url
    if not url:
        return {}
    body = json.dumps(
        {
            "user_ref": user_ref,
            "items": [{"content_ref": ref, "submission_id": sid} for ref, sid in items],
        },
        separators=(",", ":"),
    ).encode()
    secret = settings.cybertip_additional_info_secret.get_secret_value()
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": f"hashmatch/{__version__}",
        SIGNATURE_HEADER: signature_header([secret] if secret else [], body),
    }
    try:
        answer = _post(
            url, body, headers, settings.webhook_timeout_seconds, settings.url_allow_private
        )
        return {PLATFORM_ANSWER: check_details(answer, keys=USER_KEYS)}
    except (ReportingError, FetchError) as error:
        return {WARNINGS: [f"additional-info webhook: {error}"]}


def _post(
    url: str, body: bytes, headers: dict[str, str], timeout: float, allow_private: bool
) -> Any:
    deadline = time.monotonic() + timeout
    target = http_target(url)
    address = checked_address(target.host, target.port, allow_private=allow_private)
    connection = pinned_connection(target, address, deadline)
    cutoff = cut_off_at(deadline, connection)
    try:
        connection.request("POST", target.path, body, headers)
        response = connection.getresponse()
        data = response.read(MAX_ANSWER_BYTES + 1)
    except (OSError, http.client.HTTPException) as error:
        why = f"no answer within {timeout:g} s" if time.monotonic() >= deadline else reason(error)
        raise FetchError(why) from None
    finally:
        cutoff.cancel()
        connection.close()
    if not 200 <= response.status < 300:
        raise FetchError(f"answered HTTP {response.status}")
    if len(data) > MAX_ANSWER_BYTES:
        raise FetchError(f"the answer is over {MAX_ANSWER_BYTES} bytes")
    try:
        answer = json.loads(data)
    except ValueError:
        raise FetchError("the answer is not JSON") from None
    if not isinstance(answer, dict):
        raise FetchError("the answer is not a JSON object")
    return answer
