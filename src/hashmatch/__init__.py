"""hashmatch: find known content by perceptual and exact hashes.

>>> import hashmatch
>>> hashmatch.get_signal_type("pdq").default_threshold
31

Open a database, create a bank, add a hash and match a file::

    database = hashmatch.Database.open("sqlite:///hashmatch.db")
    hashmatch.Banks(database).create("known")
    matcher = hashmatch.Matcher(database)
    hashes, matches = matcher.match_file("upload.jpg")

Names are imported when first used (PEP 562), so ``import hashmatch`` and a
command that only needs one part do not pay for the rest (numba, SQLAlchemy,
PyAV); every error class is here at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hashmatch.errors import (
    AlteredObjectError,
    ApiKeyError,
    AppealConflictError,
    AppealError,
    BadSignatureError,
    BankError,
    BankExistsError,
    CanonicalJsonError,
    CollectionAccessError,
    CollectionError,
    ConfigurationError,
    CorruptMediaError,
    CybertipError,
    DownloadTooLargeError,
    EmptyFileError,
    EvaluationError,
    EvidenceError,
    EvidenceKeyError,
    ExchangeBusyError,
    ExchangeError,
    ExchangeExistsError,
    FetchError,
    FileTooLargeError,
    HashmatchError,
    HubError,
    HubKeyError,
    ImageTooLargeError,
    ImportFormatError,
    InvalidFieldError,
    InvalidHashError,
    MalformedSignatureError,
    MediaError,
    MediaKeyError,
    MembershipAccessError,
    MembershipConflictError,
    MembershipError,
    NoIdentifierKeyError,
    PlatformUserError,
    ReportConflictError,
    ReportingError,
    RevealCapError,
    ReviewAccessError,
    ReviewConflictError,
    ReviewError,
    RevokedSigningKeyError,
    RuleError,
    RuleExistsError,
    SignatureError,
    StatementError,
    StixError,
    SubmissionError,
    TransparencyError,
    UnknownAppealError,
    UnknownApplicationError,
    UnknownBankError,
    UnknownCollectionError,
    UnknownContentError,
    UnknownDeliveryError,
    UnknownEvidenceError,
    UnknownExchangeError,
    UnknownHoldError,
    UnknownHubObjectError,
    UnknownMemberError,
    UnknownMemberKeyError,
    UnknownPlatformUserError,
    UnknownReportError,
    UnknownReviewItemError,
    UnknownRuleError,
    UnknownSignalTypeError,
    UnknownSigningKeyError,
    UnknownStatementError,
    UnknownSubmissionError,
    UnknownUserError,
    UnknownWebhookError,
    UnsupportedAlgorithmError,
    UnsupportedMediaError,
    UrlNotAllowedError,
    UserError,
    UserExistsError,
    WebhookError,
    WebhookExistsError,
    WrongPublisherError,
)

if TYPE_CHECKING:
    from hashmatch.accounts.sessions import WebSessions
    from hashmatch.accounts.users import Users
    from hashmatch.actions.deliverer import Deliverer
    from hashmatch.actions.media_vault import MediaVault
    from hashmatch.actions.rule_store import Rules
    from hashmatch.actions.rules import RuleSpec, evaluate
    from hashmatch.actions.submissions import Submissions
    from hashmatch.actions.webhook_store import Webhooks
    from hashmatch.audit import Actor, acting_as
    from hashmatch.banks import Banks
    from hashmatch.hashing import FileHashes, HashRequest, hash_file, hash_files, iter_files
    from hashmatch.hashlists import Entry
    from hashmatch.index import HammingIndex
    from hashmatch.matching import Match, Matcher
    from hashmatch.media import DecodeLimits, OpenedImage, open_image
    from hashmatch.pdq import (
        Hash256,
        PdqDihedralResult,
        PdqResult,
        pdq_dihedral_from_luma,
        pdq_dihedral_from_rgb,
        pdq_from_luma,
        pdq_from_rgb,
    )
    from hashmatch.reporting.evidence import Evidence
    from hashmatch.reporting.reports import Reports
    from hashmatch.review.decisions import Verdict
    from hashmatch.review.desk import Review
    from hashmatch.review.reviewer import Reviewer
    from hashmatch.settings import Settings
    from hashmatch.signals import (
        BytesSignalType,
        ImageSignalType,
        SignalType,
        SignalValue,
        TextSearchSignalType,
        get_signal_type,
        signal_types,
    )
    from hashmatch.signals.base import DihedralSignalType, HammingSignalType, VideoSignalType
    from hashmatch.store import Database

__version__ = "0.1.0"

#: Public name -> the module it comes from, imported on first use.
_LAZY = {
    "Actor": "hashmatch.audit",
    "Banks": "hashmatch.banks",
    "BytesSignalType": "hashmatch.signals",
    "Database": "hashmatch.store",
    "DecodeLimits": "hashmatch.media",
    "Deliverer": "hashmatch.actions.deliverer",
    "DihedralSignalType": "hashmatch.signals.base",
    "Entry": "hashmatch.hashlists",
    "Evidence": "hashmatch.reporting.evidence",
    "FileHashes": "hashmatch.hashing",
    "HammingIndex": "hashmatch.index",
    "HammingSignalType": "hashmatch.signals.base",
    "Hash256": "hashmatch.pdq",
    "HashRequest": "hashmatch.hashing",
    "ImageSignalType": "hashmatch.signals",
    "Match": "hashmatch.matching",
    "Matcher": "hashmatch.matching",
    "MediaVault": "hashmatch.actions.media_vault",
    "OpenedImage": "hashmatch.media",
    "PdqDihedralResult": "hashmatch.pdq",
    "PdqResult": "hashmatch.pdq",
    "RuleSpec": "hashmatch.actions.rules",
    "Rules": "hashmatch.actions.rule_store",
    "Settings": "hashmatch.settings",
    "SignalType": "hashmatch.signals",
    "SignalValue": "hashmatch.signals",
    "Submissions": "hashmatch.actions.submissions",
    "TextSearchSignalType": "hashmatch.signals",
    "Reports": "hashmatch.reporting.reports",
    "Review": "hashmatch.review.desk",
    "Reviewer": "hashmatch.review.reviewer",
    "Verdict": "hashmatch.review.decisions",
    "Users": "hashmatch.accounts.users",
    "VideoSignalType": "hashmatch.signals.base",
    "WebSessions": "hashmatch.accounts.sessions",
    "Webhooks": "hashmatch.actions.webhook_store",
    "acting_as": "hashmatch.audit",
    "evaluate": "hashmatch.actions.rules",
    "get_signal_type": "hashmatch.signals",
    "hash_file": "hashmatch.hashing",
    "hash_files": "hashmatch.hashing",
    "iter_files": "hashmatch.hashing",
    "open_image": "hashmatch.media",
    "pdq_dihedral_from_luma": "hashmatch.pdq",
    "pdq_dihedral_from_rgb": "hashmatch.pdq",
    "pdq_from_luma": "hashmatch.pdq",
    "pdq_from_rgb": "hashmatch.pdq",
    "signal_types": "hashmatch.signals",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hashmatch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Actor",
    "AlteredObjectError",
    "ApiKeyError",
    "AppealConflictError",
    "AppealError",
    "BadSignatureError",
    "BankError",
    "BankExistsError",
    "Banks",
    "BytesSignalType",
    "CanonicalJsonError",
    "CollectionAccessError",
    "CollectionError",
    "ConfigurationError",
    "CorruptMediaError",
    "CybertipError",
    "Database",
    "DecodeLimits",
    "Deliverer",
    "DihedralSignalType",
    "DownloadTooLargeError",
    "EmptyFileError",
    "Entry",
    "EvaluationError",
    "Evidence",
    "EvidenceError",
    "EvidenceKeyError",
    "ExchangeBusyError",
    "ExchangeError",
    "ExchangeExistsError",
    "FetchError",
    "FileHashes",
    "FileTooLargeError",
    "HammingIndex",
    "HammingSignalType",
    "Hash256",
    "HashRequest",
    "HashmatchError",
    "HubError",
    "HubKeyError",
    "ImageSignalType",
    "ImageTooLargeError",
    "ImportFormatError",
    "InvalidFieldError",
    "InvalidHashError",
    "MalformedSignatureError",
    "Match",
    "Matcher",
    "MediaError",
    "MediaKeyError",
    "MediaVault",
    "MembershipAccessError",
    "MembershipConflictError",
    "MembershipError",
    "NoIdentifierKeyError",
    "OpenedImage",
    "PdqDihedralResult",
    "PdqResult",
    "PlatformUserError",
    "ReportConflictError",
    "ReportingError",
    "Reports",
    "RevealCapError",
    "Review",
    "ReviewAccessError",
    "ReviewConflictError",
    "ReviewError",
    "Reviewer",
    "RevokedSigningKeyError",
    "RuleError",
    "RuleExistsError",
    "RuleSpec",
    "Rules",
    "Settings",
    "SignalType",
    "SignalValue",
    "SignatureError",
    "StatementError",
    "StixError",
    "SubmissionError",
    "Submissions",
    "TextSearchSignalType",
    "TransparencyError",
    "UnknownAppealError",
    "UnknownApplicationError",
    "UnknownBankError",
    "UnknownCollectionError",
    "UnknownContentError",
    "UnknownDeliveryError",
    "UnknownEvidenceError",
    "UnknownExchangeError",
    "UnknownHoldError",
    "UnknownHubObjectError",
    "UnknownMemberError",
    "UnknownMemberKeyError",
    "UnknownPlatformUserError",
    "UnknownReportError",
    "UnknownReviewItemError",
    "UnknownRuleError",
    "UnknownSignalTypeError",
    "UnknownSigningKeyError",
    "UnknownStatementError",
    "UnknownSubmissionError",
    "UnknownUserError",
    "UnknownWebhookError",
    "UnsupportedAlgorithmError",
    "UnsupportedMediaError",
    "UrlNotAllowedError",
    "UserError",
    "UserExistsError",
    "Users",
    "Verdict",
    "VideoSignalType",
    "WebSessions",
    "WebhookError",
    "WebhookExistsError",
    "Webhooks",
    "WrongPublisherError",
    "__version__",
    "acting_as",
    "evaluate",
    "get_signal_type",
    "hash_file",
    "hash_files",
    "iter_files",
    "open_image",
    "pdq_dihedral_from_luma",
    "pdq_dihedral_from_rgb",
    "pdq_from_luma",
    "pdq_from_rgb",
    "signal_types",
]
