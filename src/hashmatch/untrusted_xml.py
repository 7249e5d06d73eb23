"""Reading XML that came from elsewhere (a service's answer, a request to
a simulator) so that it cannot reach files, the network or all the memory:
no entities resolved, no network, no huge trees, and no DOCTYPE at all (the
APIs we talk to never send one, and entity attacks need one).

    try:
        root = parse_untrusted(body)
    except UntrustedXmlError as why:       # "is not XML (...)", "declares a DOCTYPE"
        ...
"""

from __future__ import annotations

from lxml import etree


class UntrustedXmlError(ValueError):
    """XML that is not read: why, in a few words that follow "the answer"."""


def parse_untrusted(body: bytes) -> etree._Element:
    """``body``'s root element, or UntrustedXmlError."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as error:
        raise UntrustedXmlError(f"is not XML ({error})") from None
    if root.getroottree().docinfo.doctype:
        raise UntrustedXmlError("declares a DOCTYPE")
    return root
