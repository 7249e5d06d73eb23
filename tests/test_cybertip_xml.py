"""The CyberTipline report and fileDetails XML, the schema order check, and
the parsing of NCMEC's answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from hashmatch.errors import CybertipError, ReportingError
from hashmatch.reporting.cybertip.content import (
    FileContent,
    IpCaptureEvent,
    Person,
    ReportContent,
    ReportedUser,
    Reporter,
)
from hashmatch.reporting.cybertip.report_xml import file_details_xml, report_xml
from hashmatch.reporting.cybertip.responses import kind_of, parse_answer
from hashmatch.reporting.cybertip.schema import SCHEMA_LOCATION, SEQUENCES, out_of_order

XSI_LOCATION = "{http://www.w3.org/2001/XMLSchema-instance}noNamespaceSchemaLocation"
INCIDENT = "Child Pornography (possession, manufacture, and distribution)"
UPLOADED = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=-7)))


def minimal_content() -> ReportContent:
    return ReportContent(
        incident_type=INCIDENT,
        incident_at=UPLOADED,
        reporter=Reporter(person=Person(email="tips@example.com")),
    )


def maximal_content() -> ReportContent:
    event = IpCaptureEvent("203.0.113.7", "Login", UPLOADED, port=443, possible_proxy=True)
    return ReportContent(
        incident_type=INCIDENT,
        incident_at=UPLOADED,
        reporter=Reporter(
            person=Person("Ada", "Lovelace", "tips@example.com", "+1 555 0100"),
            contact=Person("Grace", "Hopper", "legal@example.com", "+1 555 0101"),
            terms_of_service="https://example.com/terms",
            legal_url="https://example.com/legal",
        ),
        reported_user=ReportedUser(
            esp_identifier="user-42",
            screen_name="someone",
            display_name="Some One",
            emails=("a@example.org", "b@example.org"),
            profile_url="https://example.com/u/42",
            ip_events=(event, IpCaptureEvent("198.51.100.1")),
        ),
        urls=("https://example.com/p/1", "https://example.com/p/2"),
        # Given out of schema order on purpose.
        annotations=("spam", "sextortion"),
        additional_info="Found by hash match.",
    )


def maximal_file() -> FileContent:
    return FileContent(
        report_id="4564654",
        file_id="b0754af766b426f2928a02c651ed4b99",
        original_file_name="picture.jpg",
        md5="d41d8cd98f00b204e9800998ecf8427e",
        sha256="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        classification="B1",
        viewed_by_esp=True,
        publicly_available=False,
        uploaded_at=UPLOADED,
        location="https://example.com/p/1",
        annotations=("viral", "potentialMeme"),
        ip_events=(IpCaptureEvent("203.0.113.7", "Upload", UPLOADED),),
        additional_info="Matched bank x.",
    )


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def child_names(element: etree._Element) -> list[str]:
    return [child.tag for child in element]


def assert_in_schema_order(element: etree._Element) -> None:
    """Every element with a sequence has its children in it, in order."""
    sequence = SEQUENCES.get(element.tag)
    if sequence is None:
        return
    positions = [sequence.index(name) for name in child_names(element)]
    assert positions == sorted(positions), element.tag
    for child in element:
        assert_in_schema_order(child)


# -- report XML


def test_maximal_report_has_every_part_in_schema_order() -> None:
    root = parse(report_xml(maximal_content()))
    assert out_of_order(root) is None
    assert_in_schema_order(root)
    assert child_names(root) == [
        "incidentSummary",
        "internetDetails",
        "reporter",
        "personOrUserReported",
        "additionalInfo",
    ]
    assert child_names(root.find("incidentSummary")) == [
        "incidentType",
        "reportAnnotations",
        "incidentDateTime",
    ]
    assert child_names(root.find("incidentSummary/reportAnnotations")) == ["sextortion", "spam"]
    assert child_names(root.find("reporter")) == [
        "reportingPerson",
        "contactPerson",
        "termsOfService",
        "legalURL",
    ]
    assert child_names(root.find("reporter/reportingPerson")) == [
        "firstName",
        "lastName",
        "phone",
        "email",
    ]
    user = root.find("personOrUserReported")
    assert child_names(user) == [
        "personOrUserReportedPerson",
        "espIdentifier",
        "screenName",
        "displayName",
        "profileUrl",
        "ipCaptureEvent",
        "ipCaptureEvent",
    ]
    assert [e.text for e in user.findall("personOrUserReportedPerson/email")] == [
        "a@example.org",
        "b@example.org",
    ]
    event = user.find("ipCaptureEvent")
    assert child_names(event) == ["ipAddress", "eventName", "dateTime", "possibleProxy", "port"]
    assert event.findtext("possibleProxy") == "true"
    assert event.findtext("port") == "443"
    urls = root.findall("internetDetails/webPageIncident/url")
    assert [url.text for url in urls] == ["https://example.com/p/1", "https://example.com/p/2"]


def test_minimal_report_leaves_out_what_is_empty() -> None:
    root = parse(report_xml(minimal_content()))
    assert out_of_order(root) is None
    assert child_names(root) == ["incidentSummary", "reporter"]
    assert child_names(root.find("incidentSummary")) == ["incidentType", "incidentDateTime"]
    assert child_names(root.find("reporter")) == ["reportingPerson"]
    assert child_names(root.find("reporter/reportingPerson")) == ["email"]


def test_report_names_the_schema_and_writes_times_with_their_offset() -> None:
    root = parse(report_xml(minimal_content()))
    assert root.get(XSI_LOCATION) == SCHEMA_LOCATION == "https://report.cybertip.org/ispws/xsd"
    assert root.findtext("incidentSummary/incidentDateTime") == "2026-03-04T05:06:07-07:00"


def test_a_naive_time_is_taken_as_utc() -> None:
    content = ReportContent(
        incident_type=INCIDENT,
        incident_at=datetime(2026, 1, 2, 3, 4, 5),
        reporter=Reporter(person=Person(email="tips@example.com")),
    )
    root = parse(report_xml(content))
    assert root.findtext("incidentSummary/incidentDateTime") == "2026-01-02T03:04:05+00:00"


def test_text_is_escaped_and_non_ascii_kept() -> None:
    tricky = 'O\'Brien & <Sons> "Ltd"'
    content = ReportContent(
        incident_type=INCIDENT,
        incident_at=UPLOADED,
        reporter=Reporter(person=Person("Zoë", tricky, "tips@example.com")),
        reported_user=ReportedUser(screen_name="Дмитрий 山田 🙂"),
        additional_info="a < b && c > d ]]> end",
    )
    xml = report_xml(content)
    assert b"<Sons>" not in xml
    assert b"&lt;Sons&gt;" in xml
    root = parse(xml)
    assert root.findtext("reporter/reportingPerson/firstName") == "Zoë"
    assert root.findtext("reporter/reportingPerson/lastName") == tricky
    assert root.findtext("personOrUserReported/screenName") == "Дмитрий 山田 🙂"
    assert root.findtext("additionalInfo") == "a < b && c > d ]]> end"


@pytest.mark.parametrize("character", ["\x00", "\x07", "\x1b", "\ufffe"])
def test_a_character_xml_cannot_carry_is_refused_naming_the_field(character: str) -> None:
    content = ReportContent(
        incident_type=INCIDENT,
        incident_at=UPLOADED,
        reporter=Reporter(person=Person("Ada", f"Love{character}lace", "tips@example.com")),
    )
    with pytest.raises(ReportingError, match=r"reporter\.person\.last_name"):
        report_xml(content)


def test_a_control_character_in_a_tuple_names_its_index() -> None:
    file = FileContent(report_id="1", file_id="f", annotations=("viral",), additional_info="ok")
    bad = FileContent(report_id="1", file_id="f", ip_events=(IpCaptureEvent("1.2.3.4\x01"),))
    assert parse(file_details_xml(file)) is not None
    with pytest.raises(ReportingError, match=r"file\.ip_events\[0\]\.ip_address"):
        file_details_xml(bad)


def test_tabs_and_newlines_are_kept() -> None:
    content = ReportContent(
        incident_type=INCIDENT,
        incident_at=UPLOADED,
        reporter=Reporter(person=Person(email="tips@example.com")),
        additional_info="line one\n\tline two\r\n",
    )
    assert parse(report_xml(content)).findtext("additionalInfo").startswith("line one\n\tline")


def test_an_unknown_annotation_is_refused() -> None:
    content = ReportContent(
        incident_type=INCIDENT,
        incident_at=UPLOADED,
        reporter=Reporter(person=Person(email="tips@example.com")),
        annotations=("notAnAnnotation",),
    )
    with pytest.raises(ReportingError, match="notAnAnnotation"):
        report_xml(content)


def test_the_reporting_persons_email_is_required() -> None:
    content = ReportContent(
        incident_type=INCIDENT, incident_at=UPLOADED, reporter=Reporter(person=Person("Ada"))
    )
    with pytest.raises(ReportingError, match="email"):
        report_xml(content)


def test_an_unknown_ip_event_name_is_refused() -> None:
    content = ReportContent(
        incident_type=INCIDENT,
        incident_at=UPLOADED,
        reporter=Reporter(person=Person(email="tips@example.com")),
        reported_user=ReportedUser(ip_events=(IpCaptureEvent("1.2.3.4", "Teleport"),)),
    )
    with pytest.raises(ReportingError, match="Teleport"):
        report_xml(content)


def test_an_ip_event_without_an_address_is_refused() -> None:
    file = FileContent(report_id="1", file_id="f", ip_events=(IpCaptureEvent(""),))
    with pytest.raises(ReportingError, match="IP address"):
        file_details_xml(file)


# -- fileDetails XML


def test_maximal_file_details_in_schema_order() -> None:
    root = parse(file_details_xml(maximal_file()))
    assert out_of_order(root) is None
    assert_in_schema_order(root)
    assert child_names(root) == [
        "reportId",
        "fileId",
        "originalFileName",
        "uploadedToEspTimestamp",
        "locationOfFile",
        "fileViewedByEsp",
        "publiclyAvailable",
        "fileAnnotations",
        "industryClassification",
        "originalFileHash",
        "originalFileHash",
        "ipCaptureEvent",
        "additionalInfo",
    ]
    assert child_names(root.find("fileAnnotations")) == ["potentialMeme", "viral"]
    hashes = {e.get("hashType"): e.text for e in root.findall("originalFileHash")}
    assert hashes == {"MD5": maximal_file().md5, "SHA256": maximal_file().sha256}
    assert root.findtext("fileViewedByEsp") == "true"
    assert root.findtext("publiclyAvailable") == "false"
    assert root.findtext("uploadedToEspTimestamp") == "2026-03-04T05:06:07-07:00"
    assert root.get(XSI_LOCATION) == SCHEMA_LOCATION


def test_minimal_file_details() -> None:
    root = parse(file_details_xml(FileContent(report_id="7", file_id="abc")))
    assert child_names(root) == ["reportId", "fileId", "fileViewedByEsp"]
    assert root.findtext("fileViewedByEsp") == "false"


def test_file_details_refuse_an_unknown_classification_and_missing_ids() -> None:
    with pytest.raises(ReportingError, match="classification"):
        file_details_xml(FileContent(report_id="7", file_id="abc", classification="C3"))
    with pytest.raises(ReportingError, match="file id"):
        file_details_xml(FileContent(report_id="7", file_id=""))


# -- out_of_order


def test_out_of_order_finds_the_first_misplaced_child_at_any_depth() -> None:
    swapped = parse(
        b"<report><incidentSummary><incidentType>x</incidentType>"
        b"<incidentDateTime>t</incidentDateTime></incidentSummary>"
        b"<reporter><reportingPerson><email>e</email><firstName>f</firstName>"
        b"</reportingPerson></reporter></report>"
    )
    assert out_of_order(swapped) == "report/reporter/reportingPerson/firstName"
    top = parse(b"<report><reporter/><incidentSummary/></report>")
    assert out_of_order(top) == "report/incidentSummary"
    unknown = parse(b"<fileDetails><reportId>1</reportId><colour>red</colour></fileDetails>")
    assert out_of_order(unknown) == "fileDetails/colour"
    event = parse(
        b"<fileDetails><fileId>f</fileId><ipCaptureEvent><port>1</port>"
        b"<ipAddress>a</ipAddress></ipCaptureEvent></fileDetails>"
    )
    assert out_of_order(event) == "fileDetails/ipCaptureEvent/ipAddress"


def test_out_of_order_allows_repeats_and_comments() -> None:
    root = parse(
        b"<report><incidentSummary><!-- note --><incidentType>x</incidentType>"
        b"</incidentSummary><internetDetails><webPageIncident><url>a</url><url>b</url>"
        b"</webPageIncident></internetDetails><reporter/></report>"
    )
    assert out_of_order(root) is None


# -- answers


def test_a_report_response_is_read() -> None:
    answer = parse_answer(
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b"<reportResponse><responseCode>0</responseCode>"
        b"<responseDescription>Success</responseDescription><reportId>4564654</reportId>"
        b"<fileId>b0754af766b426f2928a02c651ed4b99</fileId>"
        b"<hash>fafa5efeaf3cbe3b23b2748d13e629a1</hash></reportResponse>"
    )
    assert answer.code == 0
    assert answer.description == "Success"
    assert answer.report_id == "4564654"
    assert answer.file_id == "b0754af766b426f2928a02c651ed4b99"
    assert answer.md5 == "fafa5efeaf3cbe3b23b2748d13e629a1"
    assert answer.file_ids == ()


def test_a_report_done_response_lists_the_files() -> None:
    answer = parse_answer(
        b"<reportDoneResponse><responseCode>0</responseCode><reportId>99</reportId>"
        b"<files><fileId>aa</fileId><fileId>bb</fileId></files></reportDoneResponse>"
    )
    assert answer.report_id == "99"
    assert answer.file_ids == ("aa", "bb")
    assert answer.file_id is None
    empty = parse_answer(
        b"<reportDoneResponse><responseCode>0</responseCode><files/></reportDoneResponse>"
    )
    assert empty.file_ids == ()


def test_an_error_answer_is_read_not_raised() -> None:
    answer = parse_answer(
        b"<reportResponse><responseCode>4100</responseCode>"
        b"<responseDescription>Element out of order</responseDescription></reportResponse>"
    )
    assert (answer.code, answer.description, answer.report_id) == (
        4100,
        "Element out of order",
        None,
    )


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (0, "ok"),
        (1000, "retry"),
        (1300, "retry"),
        (2000, "credentials"),
        (3000, "credentials"),
        (3300, "credentials"),
        (4000, "invalid"),
        (4100, "invalid"),
        (4200, "invalid"),
        (5001, "unknown"),
        (5002, "unknown"),
        (5101, "done"),
        (5102, "done"),
        (1, "protocol"),
        (999, "protocol"),
        (1301, "protocol"),
        (2500, "protocol"),
        (4201, "protocol"),
        (5000, "protocol"),
        (5100, "protocol"),
        (9999, "protocol"),
    ],
)
def test_kind_of_code(code: int, kind: str) -> None:
    assert kind_of(code) == kind


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b"", "(empty)"),
        (b"garbage \x00\xff bytes", "garbage"),
        (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "502 Bad Gateway"),
        (b"<reportResponse><responseDescription>x</responseDescription></reportResponse>", "x"),
        (b"<reportResponse><responseCode>zero</responseCode></reportResponse>", "zero"),
        (b"<reportResponse><responseCode>0", "reportResponse"),
        (b'{"responseCode": 0}', "responseCode"),
    ],
)
def test_what_is_not_an_answer_is_a_protocol_error_with_an_excerpt(body: bytes, shown: str) -> None:
    with pytest.raises(CybertipError) as caught:
        parse_answer(body)
    assert caught.value.kind == "protocol"
    assert caught.value.code is None
    assert shown in str(caught.value)


def test_a_long_garbage_answer_is_quoted_briefly() -> None:
    with pytest.raises(CybertipError) as caught:
        parse_answer(b"x" * 100_000)
    assert len(str(caught.value)) < 300


def billion_laughs() -> bytes:
    entities = b"".join(
        b'<!ENTITY lol%d "%s">' % (level, b"&lol%d;" % (level - 1) * 10) for level in range(1, 10)
    )
    return (
        b'<?xml version="1.0"?><!DOCTYPE reportResponse [<!ENTITY lol0 "lol">'
        + entities
        + b"]><reportResponse><responseCode>0</responseCode>"
        b"<responseDescription>ok &lol9;</responseDescription></reportResponse>"
    )


def test_an_entity_bomb_is_refused_unexpanded() -> None:
    with pytest.raises(CybertipError) as caught:
        parse_answer(billion_laughs())
    assert caught.value.kind == "protocol"
    assert "lollollol" not in str(caught.value)


@pytest.mark.parametrize("entity", [b'"0"', b'SYSTEM "{uri}"'])
def test_an_answer_with_a_doctype_is_refused(tmp_path: Path, entity: bytes) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret")
    body = (
        b"<!DOCTYPE reportResponse [<!ENTITY x "
        + entity.replace(b"{uri}", secret.as_uri().encode())
        + b">]><reportResponse><responseCode>0</responseCode>"
        b"<responseDescription>&x;</responseDescription></reportResponse>"
    )
    with pytest.raises(CybertipError) as caught:
        parse_answer(body)
    assert caught.value.kind == "protocol"
    assert "the secret" not in str(caught.value)


def test_times_are_utc_when_given_in_utc() -> None:
    content = ReportContent(
        incident_type=INCIDENT,
        incident_at=datetime(2026, 1, 1, tzinfo=UTC),
        reporter=Reporter(person=Person(email="tips@example.com")),
    )
    assert b"2026-01-01T00:00:00+00:00" in report_xml(content)
