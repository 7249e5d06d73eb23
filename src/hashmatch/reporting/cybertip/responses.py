"""NCMEC's answers: a ``reportResponse`` (every call but ``/finish``) or a
``reportDoneResponse`` (``/finish``), read into an ``Answer``, and what a
``responseCode`` means for the caller.

    answer = parse_answer(body)
    if kind_of(answer.code) == "retry": ...

The documented codes (issue 14, from NCMEC's Reporting API documentation):
0 success; 1000-1300 server-side, try again later; 2000 and 3000-3300
credentials or permissions, an admin must act; 4000-4200 the request, its XML
or its file is invalid; 5001/5002 no such report or file; 5101/5102 the
report was retracted or finished already.  Any other code is "protocol": an
answer we cannot act on.

The parser resolves no entities, fetches nothing and keeps lxml's size
limits, and an answer with a DOCTYPE is refused, so a hostile answer (an
entity bomb, an external entity) costs nothing and reads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from hashmatch.errors import CybertipError
from hashmatch.net import excerpt
from hashmatch.untrusted_xml import UntrustedXmlError, parse_untrusted

#: The documented answer elements.
ANSWER_ROOTS = ("reportResponse", "reportDoneResponse")
#: (lowest, highest, kind), inclusive.
CODE_KINDS = (
    (0, 0, "ok"),
    (1000, 1300, "retry"),
    (2000, 2000, "credentials"),
    (3000, 3300, "credentials"),
    (4000, 4200, "invalid"),
    (5001, 5002, "unknown"),
    (5101, 5102, "done"),
)


@dataclass(frozen=True)
class Answer:
    """One answer, as NCMEC gave it; the ids are strings (NCMEC's file ids
    are 32 hex digits, report ids digits)."""

    code: int
    description: str
    report_id: str | None
    file_id: str | None
    #: The MD5 NCMEC computed of an uploaded file (``hash``).
    md5: str | None
    #: ``reportDoneResponse``'s ``files/fileId``s.
    file_ids: tuple[str, ...]


def kind_of(code: int) -> str:
    """What ``code`` tells the caller to do: "ok", "retry", "credentials",
    "invalid", "unknown", "done", or "protocol" for an undocumented code."""
    for lowest, highest, kind in CODE_KINDS:
        if lowest <= code <= highest:
            return kind
    return "protocol"


def parse_answer(body: bytes) -> Answer:
    """The answer in ``body``; CybertipError (kind "protocol") when it is not
    one of the API's answers (empty, HTML, not XML, no numeric responseCode)."""
    try:
        root = parse_untrusted(body)
    except UntrustedXmlError as why:
        raise _unreadable(body, str(why)) from None
    if root.tag not in ANSWER_ROOTS:
        raise _unreadable(body, f"has <{root.tag}>, not one of NCMEC's answers")
    code_text = _text(root, "responseCode")
    if code_text is None or not code_text.isascii() or not code_text.isdigit():
        raise _unreadable(body, "has no numeric responseCode")
    return Answer(
        code=int(code_text),
        description=_text(root, "responseDescription") or "",
        report_id=_text(root, "reportId"),
        file_id=_text(root, "fileId"),
        md5=_text(root, "hash"),
        file_ids=tuple(
            text for element in root.iterfind("files/fileId") if (text := _stripped(element))
        ),
    )


def _unreadable(body: bytes, what: str) -> CybertipError:
    shown = excerpt(body)
    return CybertipError(
        f"NCMEC's answer {what}: " + (repr(shown) if shown else "(empty)"), kind="protocol"
    )


def _text(root: etree._Element, path: str) -> str | None:
    element = root.find(path)
    return None if element is None else _stripped(element)


def _stripped(element: etree._Element) -> str | None:
    """The element's own text, trimmed; None when empty."""
    text = (element.text or "").strip()
    return text or None
