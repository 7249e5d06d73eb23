"""What a CyberTipline report says, as plain values: built from the database
by the filer, turned into NCMEC's XML by ``report_xml``.

    content = ReportContent(
        incident_type="Child Pornography (possession, manufacture, and distribution)",
        incident_at=uploaded_at,
        reporter=Reporter(first_name="Ada", last_name="Lovelace", email="tips@example.com"),
        reported_user=ReportedUser(esp_identifier="user-42", screen_name="someone"),
        urls=("https://example.com/p/1",),
    )

Every field is optional where NCMEC's schema makes it optional; the builder
leaves out what is empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

#: NCMEC's industry classification of a file, which a review confirmation
#: gives (the industry's categorisation: A prepubescent, B pubescent; 1 sex
#: act, 2 lascivious exhibition).
CLASSIFICATIONS = ("A1", "A2", "B1", "B2")
#: ``ipCaptureEvent``'s ``eventName`` values.
IP_EVENT_NAMES = ("Login", "Registration", "Purchase", "Upload", "Other", "Unknown")


@dataclass(frozen=True)
class Person:
    """A reporting or contact person."""

    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""


@dataclass(frozen=True)
class IpCaptureEvent:
    """An IP address the platform saw, and when and doing what."""

    ip_address: str
    event_name: str = "Upload"
    at: datetime | None = None
    port: int | None = None
    possible_proxy: bool | None = None


@dataclass(frozen=True)
class Reporter:
    """The platform: who reports, who to contact, its terms and legal address."""

    person: Person
    contact: Person | None = None
    terms_of_service: str = ""
    legal_url: str = ""


@dataclass(frozen=True)
class ReportedUser:
    """The platform's user whose uploads are reported (``personOrUserReported``)."""

    esp_identifier: str = ""
    screen_name: str = ""
    display_name: str = ""
    emails: tuple[str, ...] = ()
    profile_url: str = ""
    ip_events: tuple[IpCaptureEvent, ...] = ()


@dataclass(frozen=True)
class ReportContent:
    """The report itself (``/submit``): everything but the files."""

    incident_type: str
    incident_at: datetime
    reporter: Reporter
    reported_user: ReportedUser | None = None
    #: Where the content was (``internetDetails/webPageIncident/url``).
    urls: tuple[str, ...] = ()
    #: ``reportAnnotations`` element names (e.g. "sextortion").
    annotations: tuple[str, ...] = ()
    additional_info: str = ""


@dataclass(frozen=True)
class FileContent:
    """One reported file's details (``/fileinfo``), once NCMEC gave it an id."""

    report_id: str
    file_id: str
    original_file_name: str = ""
    md5: str = ""
    sha256: str = ""
    classification: str | None = None
    viewed_by_esp: bool = False
    publicly_available: bool | None = None
    uploaded_at: datetime | None = None
    location: str = ""
    #: ``fileAnnotations`` element names (NCMEC's list, as the review decision records them).
    annotations: tuple[str, ...] = ()
    ip_events: tuple[IpCaptureEvent, ...] = field(default_factory=tuple)
    additional_info: str = ""
