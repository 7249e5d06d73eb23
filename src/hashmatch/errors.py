"""Every error hashmatch raises on purpose, in one hierarchy.

::

    HashmatchError
    ├── InvalidHashError          a hash string of the wrong length or alphabet
    ├── InvalidFieldError         text or JSON a bank cannot store (NUL, too deep, too big)
    ├── UnknownSignalTypeError    a signal type name nobody registered
    ├── ConfigurationError        a setting that cannot work (bad database URL, ...)
    ├── ApiKeyError               an API key that cannot be made or changed
    ├── UserError                 a web UI user that cannot be made or changed as asked
    │   ├── UnknownUserError      no user by that name
    │   └── UserExistsError       a user by that name already exists
    ├── BankError                 a bank operation that cannot be done
    │   ├── UnknownBankError      no bank by that name
    │   ├── UnknownContentError   no content by that id in that bank
    │   ├── BankExistsError       a bank by that name already exists
    │   └── ImportFormatError     a hash list with a bad line (names the line)
    ├── RuleError                 a rule that cannot be stored or run as given
    │   ├── UnknownRuleError      no rule by that name
    │   └── RuleExistsError       a rule by that name already exists
    ├── WebhookError              a webhook or delivery that cannot be changed as asked
    │   ├── UnknownWebhookError   no webhook by that name
    │   ├── WebhookExistsError    a webhook by that name already exists
    │   └── UnknownDeliveryError  no delivery with that id
    ├── SubmissionError           a submission that cannot be taken as given
    │   └── UnknownSubmissionError  no submission with that id
    ├── ReviewError               a review item or queue that cannot be acted on as asked
    │   ├── UnknownReviewItemError  no review item with that id
    │   ├── ReviewConflictError   decided already, or claimed by someone else
    │   ├── ReviewAccessError     the queue does not admit this reviewer
    │   ├── RevealCapError        the reviewer's reveals for the day are used up
    │   └── AppealError           an appeal that cannot be taken or decided as asked
    │       ├── UnknownAppealError  no appeal with that id
    │       └── AppealConflictError decided already, claimed by someone else, or one is open
    ├── ReportingError            a CyberTipline report that cannot be made or changed as asked
    │   ├── UnknownReportError    no report with that id
    │   ├── ReportConflictError   reported already, or in a state that does not allow it
    │   └── CybertipError         NCMEC answered with an error code, garbage or not at all
    ├── EvidenceError             preserved evidence that cannot be stored, read or purged as asked
    │   ├── UnknownEvidenceError  no evidence package with that id
    │   └── UnknownHoldError      no legal hold with that id
    ├── TransparencyError         a transparency period or format that is not understood
    ├── StatementError            a DSA statement of reasons that cannot be read or changed
    │   └── UnknownStatementError  no statement with that id
    ├── PlatformUserError         a platform user's history asked for in a way not understood
    │   └── UnknownPlatformUserError  nothing is known about that user_ref
    ├── EvaluationError           an eval folder or transform that cannot be used (names it)
    ├── ExchangeError             an exchange that cannot be fetched or changed as asked
    │   ├── UnknownExchangeError  no exchange by that name
    │   ├── ExchangeExistsError   an exchange by that name already exists
    │   └── ExchangeBusyError     another process is fetching that exchange now
    ├── HubError                  a coalition hub object, key or signature that cannot be used
    │   ├── HubKeyError           a public or private key that is not an Ed25519 key we read
    │   ├── NoIdentifierKeyError  the hub has no identifier key to hand out
    │   ├── CanonicalJsonError    JSON that RFC 8785 cannot canonicalise (NaN, ints past 2^53)
    │   ├── StixError             a STIX object that is malformed or not one hashmatch shares
    │   ├── CollectionError       a hub TAXII collection that cannot be used or changed as asked
    │   │   ├── UnknownCollectionError  no collection with that id (or title)
    │   │   ├── UnknownHubObjectError   no object with that id in the collection
    │   │   └── CollectionAccessError   no read or write grant on the collection
    │   └── SignatureError        a signed object that does not verify
    │       ├── MalformedSignatureError  no signature, or not a detached compact JWS
    │       ├── UnsupportedAlgorithmError  a JWS header whose alg is not EdDSA
    │       ├── UnknownSigningKeyError   a kid nobody registered
    │       ├── RevokedSigningKeyError   a kid whose key was revoked
    │       ├── WrongPublisherError      a key used for another member's object
    │       ├── AlteredObjectError       the object changed after it was signed
    │       └── BadSignatureError        the signature itself does not verify
    ├── MembershipError           a hub application or member that cannot be changed as asked
    │   ├── UnknownApplicationError  no application with that id (or not that status token)
    │   ├── UnknownMemberError    no hub member with that id, or none holds that API key
    │   ├── UnknownMemberKeyError  the member has no signing key with that key id
    │   ├── MembershipConflictError  decided already, criteria unchecked, or the wrong state
    │   └── MembershipAccessError  a suspended or lapsed member (the message says why)
    ├── MediaKeyError             the media encryption key is missing or unusable
    │   └── EvidenceKeyError      the evidence master key is missing or unusable
    ├── FetchError                a URL whose content could not be downloaded
    │   ├── UrlNotAllowedError    fetching is off, or the host or address is refused
    │   └── DownloadTooLargeError over the configured download limit
    └── MediaError                a file that could not be read as media
        ├── FileTooLargeError     over the configured byte limit
        ├── EmptyFileError        zero bytes
        ├── UnsupportedMediaError not a format we decode
        ├── ImageTooLargeError    over the pixel limit (decompression bombs)
        └── CorruptMediaError     truncated or damaged data

Library code raises these; the CLI and the HTTP API turn them into one clean
message (and an exit code or a 4xx) at the edge.
"""

from __future__ import annotations


class HashmatchError(Exception):
    """Base class: the message is written for the person who sees it."""


class InvalidHashError(HashmatchError, ValueError):
    """A hash string that is not valid for its signal type."""


class InvalidFieldError(HashmatchError, ValueError):
    """A value a client gave that cannot be stored as it is; the message names the field."""


class UnknownSignalTypeError(HashmatchError, KeyError):
    """A signal type name that no installed signal type has."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown signal type {name!r}; known: {', '.join(sorted(known))}")
        self.name = name
        self.known = known

    def __reduce__(self) -> tuple[type, tuple[str, list[str]]]:
        return type(self), (self.name, self.known)  # crosses to and from worker processes

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ConfigurationError(HashmatchError):
    """A setting that cannot work, such as a malformed database URL."""


class ApiKeyError(HashmatchError):
    """An API key that cannot be created, found or revoked as asked."""


class UserError(HashmatchError, ValueError):
    """A user of the web UI that cannot be made or changed as asked: a bad
    name, an unknown role, a weak password."""


class UnknownUserError(UserError, KeyError):
    """No user has that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no user named {name!r}")
        self.name = name

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return type(self), (self.name,)

    def __str__(self) -> str:
        return str(self.args[0])


class UserExistsError(UserError):
    """A user with that name already exists."""


class BankError(HashmatchError):
    """A bank operation that cannot be done as asked."""


class UnknownBankError(BankError, KeyError):
    """No bank has that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no bank named {name!r}")
        self.name = name

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return type(self), (self.name,)

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownContentError(BankError, KeyError):
    def __init__(self, bank: str, content_id: int) -> None:
        super().__init__(bank, content_id)
        self.bank = bank
        self.content_id = content_id

    def __str__(self) -> str:
        return f"bank {self.bank!r} has no content {self.content_id}"


class BankExistsError(BankError):
    """A bank with that name already exists."""


class ImportFormatError(BankError, ValueError):
    """A hash list that cannot be imported; the message names the line."""


class RuleError(HashmatchError, ValueError):
    """A rule that cannot be stored or run: the message names the field."""


class UnknownRuleError(RuleError, KeyError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no rule named {name!r}")
        self.name = name

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return type(self), (self.name,)

    def __str__(self) -> str:
        return str(self.args[0])


class RuleExistsError(RuleError):
    """A rule with that name already exists."""


class WebhookError(HashmatchError, ValueError):
    """A webhook (or one of its deliveries) that cannot be created or changed as asked."""


class UnknownWebhookError(WebhookError, KeyError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no webhook named {name!r}")
        self.name = name

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return type(self), (self.name,)

    def __str__(self) -> str:
        return str(self.args[0])


class WebhookExistsError(WebhookError):
    """A webhook with that name already exists."""


class UnknownDeliveryError(WebhookError, KeyError):
    def __init__(self, delivery_id: int) -> None:
        super().__init__(f"no delivery {delivery_id}")
        self.delivery_id = delivery_id

    def __reduce__(self) -> tuple[type, tuple[int]]:
        return type(self), (self.delivery_id,)

    def __str__(self) -> str:
        return str(self.args[0])


class SubmissionError(HashmatchError, ValueError):
    """A submission that cannot be taken as given; the message names the field."""


class UnknownSubmissionError(SubmissionError, KeyError):
    def __init__(self, submission_id: int) -> None:
        super().__init__(f"no submission {submission_id}")
        self.submission_id = submission_id

    def __reduce__(self) -> tuple[type, tuple[int]]:
        return type(self), (self.submission_id,)

    def __str__(self) -> str:
        return str(self.args[0])


class ReviewError(HashmatchError, ValueError):
    """A review item or queue that cannot be acted on as asked; the message says why."""


class UnknownReviewItemError(ReviewError, KeyError):
    def __init__(self, item_id: int) -> None:
        super().__init__(f"no review item {item_id}")
        self.item_id = item_id

    def __reduce__(self) -> tuple[type, tuple[int]]:
        return type(self), (self.item_id,)

    def __str__(self) -> str:
        return str(self.args[0])


class ReviewConflictError(ReviewError):
    """The item was decided already, or someone else holds its claim."""


class ReviewAccessError(ReviewError):
    """The item's queue does not admit this reviewer."""


class RevealCapError(ReviewError):
    """The reviewer has used up the day's reveals."""


class AppealError(ReviewError):
    """An appeal that cannot be taken or decided as asked; the message says why."""


class UnknownAppealError(AppealError, KeyError):
    def __init__(self, appeal_id: int) -> None:
        super().__init__(f"no appeal {appeal_id}")
        self.appeal_id = appeal_id

    def __reduce__(self) -> tuple[type, tuple[int]]:
        return type(self), (self.appeal_id,)

    def __str__(self) -> str:
        return str(self.args[0])


class AppealConflictError(AppealError):
    """The appeal was decided already or someone else holds it, or the
    decision has an open appeal already."""


class ReportingError(HashmatchError, ValueError):
    """A CyberTipline report that cannot be made or changed as asked; the message says why."""


class UnknownReportError(ReportingError, KeyError):
    def __init__(self, report_id: int) -> None:
        super().__init__(f"no report {report_id}")
        self.report_id = report_id

    def __reduce__(self) -> tuple[type, tuple[int]]:
        return type(self), (self.report_id,)

    def __str__(self) -> str:
        return str(self.args[0])


class ReportConflictError(ReportingError):
    """An item reported already, or a report whose state does not allow the step."""


class CybertipError(ReportingError):
    """NCMEC's CyberTipline answered with an error code, with something that is
    not its XML, or not at all.  ``code`` is NCMEC's ``responseCode`` (None when
    there was none); ``kind`` says what to do about it: ``"retry"`` (server-side,
    try again later), ``"credentials"`` (stop, an admin must act), ``"invalid"``
    (stop, NCMEC's message says what to fix), ``"unknown"`` (no such report or
    file there), ``"done"`` (retracted or finished already) or ``"protocol"``
    (an answer that is not the API's)."""

    def __init__(self, message: str, *, code: int | None = None, kind: str = "protocol") -> None:
        super().__init__(message)
        self.code = code
        self.kind = kind

    def __reduce__(self) -> tuple[type, tuple[str], dict[str, object]]:
        return type(self), (str(self),), {"code": self.code, "kind": self.kind}


class EvidenceError(HashmatchError, ValueError):
    """Preserved evidence that cannot be stored, read, exported or purged as asked."""


class UnknownEvidenceError(EvidenceError, KeyError):
    def __init__(self, package_id: int) -> None:
        super().__init__(f"no evidence package {package_id}")
        self.package_id = package_id

    def __reduce__(self) -> tuple[type, tuple[int]]:
        return type(self), (self.package_id,)

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownHoldError(EvidenceError, KeyError):
    def __init__(self, hold_id: int) -> None:
        super().__init__(f"no legal hold {hold_id}")
        self.hold_id = hold_id

    def __reduce__(self) -> tuple[type, tuple[int]]:
        return type(self), (self.hold_id,)

    def __str__(self) -> str:
        return str(self.args[0])


class StatementError(HashmatchError):
    """A DSA statement of reasons that cannot be read or changed as asked."""


class UnknownStatementError(StatementError, KeyError):
    """No statement of reasons with that id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class PlatformUserError(HashmatchError, ValueError):
    """A platform user's history asked for with a bad cursor, kind or limit."""


class UnknownPlatformUserError(PlatformUserError, KeyError):
    def __init__(self, user_ref: str) -> None:
        super().__init__(f"nothing is known about platform user {user_ref!r}")
        self.user_ref = user_ref

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return type(self), (self.user_ref,)

    def __str__(self) -> str:
        return str(self.args[0])


class TransparencyError(HashmatchError, ValueError):
    """A transparency period or output format that is not understood."""


class EvaluationError(HashmatchError, ValueError):
    """A ``hashmatch eval`` image folder or transform that cannot be used:
    the message names the folder, file or transform."""


class ExchangeError(HashmatchError):
    """An exchange that cannot be fetched or changed as asked; a message with
    the exchange's credentials in it is never made (hashmatch/exchange/)."""


class UnknownExchangeError(ExchangeError, KeyError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no exchange named {name!r}")
        self.name = name

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return type(self), (self.name,)

    def __str__(self) -> str:
        return str(self.args[0])


class ExchangeExistsError(ExchangeError):
    """An exchange with that name already exists."""


class ExchangeBusyError(ExchangeError):
    """Another fetch of the exchange holds its lease; the message names it and until when."""


class HubError(HashmatchError, ValueError):
    """A coalition hub object, key or signature that cannot be used (hashmatch/hub/)."""


class HubKeyError(HubError):
    """Text that is not an Ed25519 key in a form we read (PEM, base64url, JWK)."""


class NoIdentifierKeyError(HubError):
    """The hub has no identifier key to hand out (the setting ``identifier_keys`` is empty)."""


class CanonicalJsonError(HubError):
    """A value with no RFC 8785 canonical form: NaN, infinities, integers past +-(2**53 - 1)."""


class StixError(HubError):
    """A STIX object that is malformed, or not one hashmatch shares; the message names the field."""


class CollectionError(HubError):
    """A hub TAXII collection that cannot be used or changed as asked."""


class UnknownCollectionError(CollectionError, KeyError):
    """No hub collection with that id (or title)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownHubObjectError(CollectionError, KeyError):
    """No STIX object with that id in the collection."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class CollectionAccessError(CollectionError):
    """The member holds no read (or write) grant on the collection."""


class SignatureError(HubError):
    """A signed hub object that must be refused; each subclass says why."""


class MalformedSignatureError(SignatureError):
    """No signature property, or one that is not a detached compact JWS."""


class UnsupportedAlgorithmError(SignatureError):
    """A JWS header naming an algorithm other than EdDSA."""


class UnknownSigningKeyError(SignatureError):
    """A JWS key id that no member registered."""


class RevokedSigningKeyError(SignatureError):
    """A JWS key id whose key was revoked."""


class WrongPublisherError(SignatureError):
    """A member's key on an object that names another publisher."""


class AlteredObjectError(SignatureError):
    """The object's canonical JSON is not what was signed: it changed after signing."""


class BadSignatureError(SignatureError):
    """The signature does not verify under the named key."""


class MembershipError(HashmatchError, ValueError):
    """A hub application or member that cannot be changed as asked (hashmatch/hub/)."""


class UnknownApplicationError(MembershipError, KeyError):
    """No application with that id; also what a wrong status token gets, so a
    token guesser learns nothing about which ids exist."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownMemberError(MembershipError, KeyError):
    """No hub member with that id, or none that holds the API key asking."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownMemberKeyError(MembershipError, KeyError):
    """The member has no signing key with that key id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class MembershipConflictError(MembershipError):
    """Decided already, a criterion not checked yet, or a member in a state
    that does not allow the change."""


class MembershipAccessError(MembershipError):
    """A suspended or lapsed member asked for what only active members get."""


class MediaKeyError(ConfigurationError):
    """The media encryption key is missing, unreadable or not 32 bytes."""


class EvidenceKeyError(MediaKeyError):
    """The evidence master key is missing, unreadable or not a key."""


class FetchError(HashmatchError):
    pass


class UrlNotAllowedError(FetchError):
    pass


class DownloadTooLargeError(FetchError):
    pass


class MediaError(HashmatchError):
    """A file could not be read as media."""


class FileTooLargeError(MediaError):
    """The file is larger than the configured maximum."""


class EmptyFileError(MediaError):
    """The file has no bytes."""


class UnsupportedMediaError(MediaError):
    """The file is not in a format hashmatch decodes."""


class ImageTooLargeError(MediaError):
    """The image has more pixels than allowed: refused before decoding."""


class CorruptMediaError(MediaError):
    """The file is truncated or damaged."""
