"""The order NCMEC's report schema gives the children of each element we
emit, as data: ``report_xml`` builds from it and ``out_of_order`` checks
against it (NCMEC refuses children out of sequence with code 4100).

    SEQUENCES["reporter"]
    # ("reportingPerson", "contactPerson", "companyTemplate", "termsOfService", "legalURL")
    out_of_order(lxml.etree.fromstring(xml))  # None, or "report/reporter/reportingPerson"

The sequences are NCMEC's documented ones (the Reporting API documentation's
appendices and its examples, cross-checked against public implementations;
docs/research/cybertipline-api.md says where each came from), complete for
every element listed, so that an element the schema does not know is found
too.  The schema itself is served at the API's ``/xsd`` and is not copied here.
An element may repeat (``url``, ``email``, ``ipCaptureEvent``); what matters is
that no child comes after one that the sequence puts later.
"""

from __future__ import annotations

from lxml import etree

#: Where the schema is published: the root's ``xsi:noNamespaceSchemaLocation``,
#: as NCMEC's examples have it.
SCHEMA_LOCATION = "https://report.cybertip.org/ispws/xsd"

_PERSON = (
    "firstName",
    "lastName",
    "phone",
    "email",
    "address",
    "age",
    "ageAssertionDiscrepancy",
    "dateOfBirth",
)
_IP_CAPTURE_EVENT = ("ipAddress", "eventName", "dateTime", "possibleProxy", "port")

#: Element name → its children's names in schema order.  Names mean the same
#: thing wherever they occur, so one table serves every depth.
SEQUENCES: dict[str, tuple[str, ...]] = {
    "report": (
        "batchedReport",
        "incidentSummary",
        "internetDetails",
        "lawEnforcement",
        "reporter",
        "personOrUserReported",
        "intendedRecipient",
        "victim",
        "additionalInfo",
    ),
    "incidentSummary": (
        "incidentType",
        "platform",
        "escalateToHighPriority",
        "reportAnnotations",
        "incidentDateTime",
        "incidentDateTimeDescription",
    ),
    "reportAnnotations": (
        "sextortion",
        "csamSolicitation",
        "minorToMinorInteraction",
        "spam",
        "sadisticOnlineExploitation",
        "informational",
    ),
    # internetDetails holds one incident of one kind; we emit webPageIncident.
    "internetDetails": (
        "webPageIncident",
        "emailIncident",
        "newsgroupIncident",
        "chatImIncident",
        "onlineGamingIncident",
        "cellPhoneIncident",
        "nonInternetIncident",
        "peer2peerIncident",
    ),
    "webPageIncident": ("url", "additionalInfo"),
    "reporter": (
        "reportingPerson",
        "contactPerson",
        "companyTemplate",
        "termsOfService",
        "legalURL",
    ),
    "reportingPerson": _PERSON,
    "contactPerson": _PERSON,
    "personOrUserReportedPerson": _PERSON,
    "personOrUserReported": (
        "personOrUserReportedPerson",
        "vehicleDescription",
        "espIdentifier",
        "espService",
        "compromisedAccount",
        "screenName",
        "displayName",
        "profileUrl",
        "profileBio",
        "ipCaptureEvent",
        "deviceId",
        "thirdPartyUserReported",
        "priorCTReports",
        "groupIdentifier",
        "accountTemporarilyDisabled",
        "accountPermanentlyDisabled",
        "estimatedLocation",
        "allEmailsReported",
        "associatedAccount",
        "additionalInfo",
    ),
    "ipCaptureEvent": _IP_CAPTURE_EVENT,
    "fileDetails": (
        "reportId",
        "fileId",
        "originalFileName",
        "uploadedToEspTimestamp",
        "locationOfFile",
        "fileViewedByEsp",
        "exifViewedByEsp",
        "publiclyAvailable",
        "fileRelevance",
        "fileAnnotations",
        "industryClassification",
        "originalFileHash",
        "ipCaptureEvent",
        "deviceId",
        "details",
        "additionalInfo",
    ),
    "fileAnnotations": (
        "animeDrawingVirtualHentai",
        "potentialMeme",
        "viral",
        "possibleSelfProduction",
        "physicalHarm",
        "violenceGore",
        "bestiality",
        "liveStreaming",
        "infant",
        "generativeAi",
    ),
}


def out_of_order(element: etree._Element) -> str | None:
    """The path (``report/reporter/legalURL``) of the first child, depth
    first, that the schema does not allow where it stands: a child that
    comes after a sibling the sequence puts later, or a name the parent's
    sequence does not have.  None when every element with a known sequence
    has its children in order.  Elements without a sequence here (leaves,
    ``address``, ``deviceId``) are not looked into."""
    return _first_misplaced(element, _local_name(element))


def _first_misplaced(element: etree._Element, path: str) -> str | None:
    sequence = SEQUENCES.get(_local_name(element))
    if sequence is None:
        return None
    highest = 0
    for child in element:
        if not isinstance(child.tag, str):  # comments and processing instructions
            continue
        name = _local_name(child)
        child_path = f"{path}/{name}"
        if name not in sequence or sequence.index(name) < highest:
            return child_path
        highest = sequence.index(name)
        found = _first_misplaced(child, child_path)
        if found is not None:
            return found
    return None


def _local_name(element: etree._Element) -> str:
    return str(etree.QName(element).localname)
