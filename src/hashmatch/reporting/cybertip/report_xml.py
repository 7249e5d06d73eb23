"""A report's and a file's XML, as NCMEC's Reporting API takes them
(``/submit`` and ``/fileinfo``).

    xml = report_xml(content)                # bytes for POST /submit
    details = file_details_xml(file_content)  # bytes for POST /fileinfo

Each element is given its children as a mapping (name → text, element, or a
sequence of them) and lays them out in the order ``schema.SEQUENCES`` has, so
the order lives in one place.  Empty optional values are left out, datetimes
are ISO 8601 with their offset (a naive one is taken as UTC, which is how the
database hands back times it stored as UTC), booleans are ``true``/``false``.
lxml escapes the text; characters XML 1.0 cannot carry at all (most C0
controls, unpaired surrogates, U+FFFE/U+FFFF) are refused with a
ReportingError that names the field.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeAlias

from lxml import etree

from hashmatch.errors import ReportingError
from hashmatch.reporting.cybertip.content import (
    CLASSIFICATIONS,
    IP_EVENT_NAMES,
    FileContent,
    IpCaptureEvent,
    Person,
    ReportContent,
    ReportedUser,
    Reporter,
)
from hashmatch.reporting.cybertip.schema import SCHEMA_LOCATION, SEQUENCES

XSI = "http://www.w3.org/2001/XMLSchema-instance"
#: What XML 1.0 cannot carry, even escaped.
NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

Child: TypeAlias = str | etree._Element
Children: TypeAlias = Mapping[str, Child | Sequence[Child] | None]


def report_xml(content: ReportContent) -> bytes:
    """The ``<report>`` document for ``content``."""
    _refuse_unwritable(content, "report")
    if not content.incident_type:
        raise ReportingError("incident_type: NCMEC requires an incident type")
    if not content.reporter.person.email:
        raise ReportingError("reporter.person.email: NCMEC requires the reporting person's email")
    summary = _element(
        "incidentSummary",
        {
            "incidentType": content.incident_type,
            "reportAnnotations": _flags("reportAnnotations", content.annotations),
            "incidentDateTime": _when(content.incident_at),
        },
    )
    web_page = _element("webPageIncident", {"url": content.urls})
    root = _element(
        "report",
        {
            "incidentSummary": summary,
            "internetDetails": _element("internetDetails", {"webPageIncident": web_page}),
            "reporter": _reporter(content.reporter),
            "personOrUserReported": _reported_user(content.reported_user),
            "additionalInfo": content.additional_info,
        },
    )
    return _document(root)


def file_details_xml(file: FileContent) -> bytes:
    """The ``<fileDetails>`` document for one uploaded file."""
    _refuse_unwritable(file, "file")
    if not file.report_id or not file.file_id:
        raise ReportingError("file: NCMEC requires the report id and the file id")
    if file.classification is not None and file.classification not in CLASSIFICATIONS:
        raise ReportingError(
            f"file.classification: {file.classification!r} is not one of "
            + ", ".join(CLASSIFICATIONS)
        )
    hashes = [_hash("MD5", file.md5), _hash("SHA256", file.sha256)]
    root = _element(
        "fileDetails",
        {
            "reportId": file.report_id,
            "fileId": file.file_id,
            "originalFileName": file.original_file_name,
            "uploadedToEspTimestamp": _when(file.uploaded_at),
            "locationOfFile": file.location,
            "fileViewedByEsp": _boolean(file.viewed_by_esp),
            "publiclyAvailable": _boolean(file.publicly_available),
            "fileAnnotations": _flags("fileAnnotations", file.annotations),
            "industryClassification": file.classification,
            "originalFileHash": [digest for digest in hashes if digest is not None],
            "ipCaptureEvent": [_ip_event(event) for event in file.ip_events],
            "additionalInfo": file.additional_info,
        },
    )
    return _document(root)


def _reporter(reporter: Reporter) -> etree._Element | None:
    return _element(
        "reporter",
        {
            "reportingPerson": _person("reportingPerson", reporter.person),
            "contactPerson": _person("contactPerson", reporter.contact),
            "termsOfService": reporter.terms_of_service,
            "legalURL": reporter.legal_url,
        },
    )


def _person(name: str, person: Person | None) -> etree._Element | None:
    if person is None:
        return None
    return _element(
        name,
        {
            "firstName": person.first_name,
            "lastName": person.last_name,
            "phone": person.phone,
            "email": person.email,
        },
    )


def _reported_user(user: ReportedUser | None) -> etree._Element | None:
    if user is None:
        return None
    return _element(
        "personOrUserReported",
        {
            # The schema keeps a reported user's emails on the person part.
            "personOrUserReportedPerson": _element(
                "personOrUserReportedPerson", {"email": user.emails}
            ),
            "espIdentifier": user.esp_identifier,
            "screenName": user.screen_name,
            "displayName": user.display_name,
            "profileUrl": user.profile_url,
            "ipCaptureEvent": [_ip_event(event) for event in user.ip_events],
        },
    )


def _ip_event(event: IpCaptureEvent) -> etree._Element:
    if event.event_name not in IP_EVENT_NAMES:
        raise ReportingError(
            f"ip event {event.ip_address}: {event.event_name!r} is not one of "
            f"{', '.join(IP_EVENT_NAMES)}"
        )
    element = _element(
        "ipCaptureEvent",
        {
            "ipAddress": event.ip_address,
            "eventName": event.event_name,
            "dateTime": _when(event.at),
            "possibleProxy": _boolean(event.possible_proxy),
            "port": None if event.port is None else str(event.port),
        },
    )
    if element is None or not event.ip_address:
        raise ReportingError("ip event: NCMEC requires the IP address")
    return element


def _hash(hash_type: str, value: str) -> etree._Element | None:
    if not value:
        return None
    element = etree.Element("originalFileHash", hashType=hash_type)
    element.text = value
    return element


def _flags(name: str, flags: Sequence[str]) -> etree._Element | None:
    """An element of empty marker elements (``<sextortion/>``), which must be
    names the schema lists for ``name``."""
    unknown = [flag for flag in flags if flag not in SEQUENCES[name]]
    if unknown:
        raise ReportingError(
            f"{name}: {', '.join(map(repr, unknown))} not among {', '.join(SEQUENCES[name])}"
        )
    return _element(name, {flag: etree.Element(flag) for flag in flags})


def _element(name: str, children: Children) -> etree._Element | None:
    """``<name>`` with ``children`` in schema order, or None when every child
    is empty.  A string is a text element; an element must be called by its
    key's name."""
    sequence = SEQUENCES[name]
    element = etree.Element(name)
    for child_name in sorted(children, key=sequence.index):
        value = children[child_name]
        for item in [value] if isinstance(value, str | etree._Element) else value or ():
            if isinstance(item, str):
                if item:
                    etree.SubElement(element, child_name).text = item
            else:
                element.append(item)
    return element if len(element) else None


def _document(root: etree._Element | None) -> bytes:
    if root is None:  # never: incidentSummary and fileDetails' ids are required above
        raise ReportingError("nothing to report")
    # lxml names the XML Schema instance namespace "xsi", as NCMEC's examples do.
    root.set(etree.QName(XSI, "noNamespaceSchemaLocation"), SCHEMA_LOCATION)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _when(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="seconds")


def _boolean(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


def _refuse_unwritable(value: object, path: str) -> None:
    """ReportingError naming the first field (``reporter.person.first_name``)
    whose text XML 1.0 cannot carry."""
    if isinstance(value, str):
        found = NOT_IN_XML.search(value)
        if found is not None:
            raise ReportingError(
                f"{path}: has the character U+{ord(found.group()):04X}, which XML cannot carry"
            )
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            _refuse_unwritable(item, f"{path}[{index}]")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            _refuse_unwritable(getattr(value, field.name), f"{path}.{field.name}")
