"""URLs as a signal type: the normalised URL, matched exactly.

Two spellings of one address get one value, so that a URL a member shares
matches the same link posted elsewhere:

>>> UrlSignal().parse("HTTPS://Example.COM:443/a/./b/../c?utm_source=x&b=2&a=1#top")
'https://example.com/a/c?a=1&b=2'

* the scheme and host are lower-cased, an internationalised host is written
  in IDNA (``bücher.example`` -> ``xn--bcher-kva.example``, UTS #46 mapping),
  a trailing dot is dropped;
* the scheme's default port (http 80, https 443, ...) and the fragment are
  dropped;
* dot segments are resolved (RFC 3986, 5.2.4) and an empty path is ``/``;
* percent-encoding is normalised (RFC 3986, 6.2.2): escapes of unreserved
  characters decoded, the others in capitals, characters a URL may not hold
  (spaces, non-ASCII) encoded as UTF-8;
* tracking parameters (``utm_*``, ``fbclid``, ``gclid``, ``mc_eid``, ...:
  :data:`TRACKING_PARAMETERS`) are removed and the rest sorted.

The path and query keep their case: servers treat them as case-sensitive.
A URL needs its scheme (``example.com/x`` is refused: it could be a path).
"""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import SplitResult, urlsplit, urlunsplit

from hashmatch.errors import InvalidHashError
from hashmatch.signals import names
from hashmatch.signals.text_values import ExactTextSignalType, ascii_host, one_line

#: Longest URL taken before normalising (browsers and servers stop near here).
MAX_URL_CHARS = 8192
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
#: Query parameters that only say where a click came from (Google Analytics,
#: Ads and Tag Manager; Meta; Microsoft; Mailchimp; HubSpot; Marketo; Yandex;
#: TikTok, X, LinkedIn and Instagram share links).
TRACKING_PARAMETERS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "gad_source", "_ga", "_gl",
        "msclkid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "__hssc", "__hstc", "__hsfp",
        "hsctatracking", "mkt_tok", "yclid", "ysclid", "ttclid", "twclid", "li_fat_id",
        "igshid", "igsh", "si", "srsltid", "oly_anon_id", "oly_enc_id", "rb_clickid",
        "s_cid", "vero_conv", "vero_id", "wickedid", "_openstat", "ref_src", "ref_url",
    }
)  # fmt: skip
#: Parameter name prefixes of the same kind (``utm_source``, ``hsa_cam``, ``pk_campaign``).
TRACKING_PREFIXES = ("utm_", "hsa_", "pk_", "mtm_", "matomo_")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
#: What a path, query or user part may hold as it is, besides unreserved
#: characters and escapes (RFC 3986: sub-delims, ":", "@", and "/" and "?").
_PATH_SAFE = frozenset("!$&'()*+,;=:@/")
_QUERY_SAFE = frozenset("!$'()*+,;:@/?")  # "&" and "=" separate parameters
_HEX = frozenset("0123456789ABCDEFabcdef")


def _refuse(text: str, why: str) -> InvalidHashError:
    return InvalidHashError(f"not a URL ({why}): {text[:80]!r}")


def normalise_url(text: str) -> str:
    """The canonical form of an absolute URL (see the module's docstring)."""
    text = text.strip()
    if len(text) > MAX_URL_CHARS:
        raise InvalidHashError(f"a URL is at most {MAX_URL_CHARS} characters, got {len(text)}")
    one_line("url", text)
    if any(ch.isspace() for ch in text):
        raise _refuse(text, "it holds whitespace; encode spaces as %20")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise _refuse(text, str(error)) from None
    scheme = parts.scheme.lower()
    if not _SCHEME.match(scheme) or "://" not in text:
        raise _refuse(text, "give the scheme and host, as in https://example.com/")
    host = _host(text, parts)
    netloc = host if port is None or port == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    if parts.username is not None:
        user = _encoded(parts.netloc.rpartition("@")[0], _PATH_SAFE - {"@", "/"})
        netloc = f"{user}@{netloc}"
    path = _remove_dot_segments(_encoded(parts.path, _PATH_SAFE)) or "/"
    return urlunsplit((scheme, netloc, path, _query(parts.query), ""))


def _host(text: str, parts: SplitResult) -> str:
    host = parts.hostname
    if not host:
        raise _refuse(text, "it has no host")
    if "[" in parts.netloc:  # an IPv6 literal, already lower-cased by hostname
        return f"[{host}]"
    try:
        return ascii_host(host)
    except InvalidHashError as error:
        raise _refuse(text, str(error)) from None


def _encoded(part: str, safe: frozenset[str]) -> str:
    """``part`` with escapes of unreserved characters decoded, other escapes
    in capitals, and what may not stand as it is encoded (UTF-8)."""
    out: list[str] = []
    i = 0
    while i < len(part):
        ch = part[i]
        if ch == "%" and i + 2 < len(part) and set(part[i + 1 : i + 3]) <= _HEX:
            decoded = chr(int(part[i + 1 : i + 3], 16))
            out.append(decoded if decoded in _UNRESERVED else part[i : i + 3].upper())
            i += 3
            continue
        if ch in _UNRESERVED or ch in safe:
            out.append(ch)
        else:
            out.extend(f"%{byte:02X}" for byte in ch.encode("utf-8", "surrogatepass"))
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986, 5.2.4: ``/a/./b/../c`` -> ``/a/c``."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/".join(output)


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMETERS or name.startswith(TRACKING_PREFIXES)


def _query(query: str) -> str:
    """The parameters less the tracking ones, sorted (by name, then value)."""
    kept = []
    for pair in query.split("&"):
        if not pair:
            continue
        name, sep, value = pair.partition("=")
        name = _encoded(name, _QUERY_SAFE)
        if not _is_tracking(_decoded_name(name)):
            kept.append((name, sep + _encoded(value, _QUERY_SAFE | {"="})))
    return "&".join(name + value for name, value in sorted(kept))


def _decoded_name(name: str) -> str:
    """A parameter's name with its escapes decoded (``utm%5Fsource`` is ``utm_source``)."""
    return re.sub(r"%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), name)


class UrlSignal(ExactTextSignalType):
    """A web address (Lantern shares URLs): its normalised form, matched exactly."""

    name: ClassVar[str] = names.URL

    def normalise(self, text: str) -> str:
        return normalise_url(text)
