"""The DSA Transparency Database's statement fields, as our own constants,
and the check that a statement we built would be taken.

    problems = field_errors(statement)     # {"category": ["... 'X' ..."], ...}
    check_statement(statement)              # InvalidFieldError naming each

The allowed values follow the Commission's published API documentation
(docs/research/dsa-transparency-api.md gives the sources and what could not
be confirmed).  Only what hashmatch's own statements can carry is checked
strictly; a value the API added since is refused here, never sent and then
refused there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from hashmatch.errors import InvalidFieldError

YES, NO = "Yes", "No"

DECISION_VISIBILITY = frozenset(
    {
        "DECISION_VISIBILITY_CONTENT_REMOVED",
        "DECISION_VISIBILITY_CONTENT_DISABLED",
        "DECISION_VISIBILITY_CONTENT_DEMOTED",
        "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
        "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
        "DECISION_VISIBILITY_CONTENT_LABELLED",
        "DECISION_VISIBILITY_OTHER",
    }
)
DECISION_MONETARY = frozenset(
    {"DECISION_MONETARY_SUSPENSION", "DECISION_MONETARY_TERMINATION", "DECISION_MONETARY_OTHER"}
)
DECISION_PROVISION = frozenset(
    {
        "DECISION_PROVISION_PARTIAL_SUSPENSION",
        "DECISION_PROVISION_TOTAL_SUSPENSION",
        "DECISION_PROVISION_PARTIAL_TERMINATION",
        "DECISION_PROVISION_TOTAL_TERMINATION",
    }
)
DECISION_ACCOUNT = frozenset({"DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED"})
ACCOUNT_TYPE = frozenset({"ACCOUNT_TYPE_BUSINESS", "ACCOUNT_TYPE_PRIVATE"})
ILLEGAL_CONTENT = "DECISION_GROUND_ILLEGAL_CONTENT"
INCOMPATIBLE_CONTENT = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
DECISION_GROUND = frozenset({ILLEGAL_CONTENT, INCOMPATIBLE_CONTENT})
CONTENT_TYPE = frozenset(
    {
        "CONTENT_TYPE_APP",
        "CONTENT_TYPE_AUDIO",
        "CONTENT_TYPE_IMAGE",
        "CONTENT_TYPE_PRODUCT",
        "CONTENT_TYPE_SYNTHETIC_MEDIA",
        "CONTENT_TYPE_TEXT",
        "CONTENT_TYPE_VIDEO",
        "CONTENT_TYPE_OTHER",
    }
)
PROTECTION_OF_MINORS = "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
CATEGORY = frozenset(
    {
        "STATEMENT_CATEGORY_ANIMAL_WELFARE",
        "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
        "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
        "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
        "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
        "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
        "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT",
        PROTECTION_OF_MINORS,
        "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
        "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
        "STATEMENT_CATEGORY_SELF_HARM",
        "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE",
        "STATEMENT_CATEGORY_UNSAFE_AND_ILLEGAL_PRODUCTS",
        "STATEMENT_CATEGORY_VIOLENCE",
    }
)
CHILD_SEXUAL_ABUSE_MATERIAL = "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"
#: The protection-of-minors keywords (the only category hashmatch states).
CATEGORY_SPECIFICATION = frozenset(
    {
        "KEYWORD_AGE_SPECIFIC_RESTRICTIONS_MINORS",
        CHILD_SEXUAL_ABUSE_MATERIAL,
        "KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS",
        "KEYWORD_UNSAFE_CHALLENGES",
        "KEYWORD_OTHER",
    }
)
SOURCE_TYPE = frozenset(
    {
        "SOURCE_ARTICLE_16",
        "SOURCE_TRUSTED_FLAGGER",
        "SOURCE_TYPE_OTHER_NOTIFICATION",
        "SOURCE_VOLUNTARY",
    }
)
AUTOMATED_DETECTION = frozenset({YES, NO})
FULLY = "AUTOMATED_DECISION_FULLY"
PARTIALLY = "AUTOMATED_DECISION_PARTIALLY"
NOT_AUTOMATED = "AUTOMATED_DECISION_NOT_AUTOMATED"
AUTOMATED_DECISION = frozenset({FULLY, PARTIALLY, NOT_AUTOMATED})
EU_MEMBER_STATES = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
)  # fmt: skip
#: The EEA adds Iceland, Liechtenstein and Norway.
TERRITORIAL_SCOPE = frozenset((*EU_MEMBER_STATES, "IS", "LI", "NO"))
#: The puid: letters, digits, "-" and "_", at most 500.
PUID = re.compile(r"[A-Za-z0-9_-]{1,500}")
LANGUAGE = re.compile(r"[A-Z]{2}")
#: Text fields and their longest allowed length.
TEXT_CHARS = {
    "decision_visibility_other": 500,
    "decision_monetary_other": 500,
    "illegal_content_legal_ground": 500,
    "illegal_content_explanation": 2000,
    "incompatible_content_ground": 500,
    "incompatible_content_explanation": 2000,
    "content_type_other": 500,
    "category_specification_other": 500,
    "decision_facts": 5000,
    "source_identity": 500,
}
ONE_OF = {
    "decision_monetary": DECISION_MONETARY,
    "decision_provision": DECISION_PROVISION,
    "decision_account": DECISION_ACCOUNT,
    "account_type": ACCOUNT_TYPE,
    "decision_ground": DECISION_GROUND,
    "category": CATEGORY,
    "source_type": SOURCE_TYPE,
    "automated_detection": AUTOMATED_DETECTION,
    "automated_decision": AUTOMATED_DECISION,
}
LISTS_OF = {
    "decision_visibility": DECISION_VISIBILITY,
    "content_type": CONTENT_TYPE,
    "category_specification": CATEGORY_SPECIFICATION,
    "territorial_scope": TERRITORIAL_SCOPE,
}
REQUIRED = (
    "decision_ground",
    "content_type",
    "category",
    "territorial_scope",
    "content_date",
    "application_date",
    "decision_facts",
    "source_type",
    "automated_detection",
    "automated_decision",
    "puid",
)
DATES = {
    "content_date": date(2000, 1, 1),
    "application_date": date(2020, 1, 1),
    "end_date_account_restriction": None,
    "end_date_monetary_restriction": None,
    "end_date_service_restriction": None,
    "end_date_visibility_restriction": None,
}
RESTRICTIONS = (
    "decision_visibility",
    "decision_monetary",
    "decision_provision",
    "decision_account",
)
GROUND_TEXTS = {
    ILLEGAL_CONTENT: ("illegal_content_legal_ground", "illegal_content_explanation"),
    INCOMPATIBLE_CONTENT: ("incompatible_content_ground", "incompatible_content_explanation"),
}


def field_errors(statement: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every field the API would refuse, each with why (empty: none)."""
    errors: dict[str, list[str]] = {}

    def refuse(name: str, why: str) -> None:
        errors.setdefault(name, []).append(why)

    for name in REQUIRED:
        if statement.get(name) in (None, "", []):
            refuse(name, f"{name} is required")
    if not any(statement.get(name) not in (None, "", []) for name in RESTRICTIONS):
        refuse("decision_visibility", f"one of {', '.join(RESTRICTIONS)} is required")
    for name, allowed in ONE_OF.items():
        value = statement.get(name)
        if value is not None and value not in allowed:
            refuse(name, f"{name} {value!r} is not one of the API's values")
    for name, allowed in LISTS_OF.items():
        values = statement.get(name)
        if values is None:
            continue
        if not isinstance(values, list):
            refuse(name, f"{name} must be a list, not {values!r}")
            continue
        for value in values:
            if value not in allowed:
                refuse(name, f"{name} {value!r} is not one of the API's values")
    for name, chars in TEXT_CHARS.items():
        text = statement.get(name)
        if text is not None and (not isinstance(text, str) or len(text) > chars):
            refuse(name, f"{name} must be text of at most {chars} characters")
    _check_dates(statement, refuse)
    puid = statement.get("puid")
    if puid and (not isinstance(puid, str) or not PUID.fullmatch(puid)):
        refuse("puid", f"puid {puid!r}: 1-500 letters, digits, '-' or '_' only")
    language = statement.get("content_language")
    if language is not None and (not isinstance(language, str) or not LANGUAGE.fullmatch(language)):
        refuse("content_language", f"content_language {language!r} is not a two-letter code")
    for name in GROUND_TEXTS.get(statement.get("decision_ground", ""), ()):
        if not statement.get(name):
            refuse(name, f"{name} is required for {statement['decision_ground']}")
    return errors


def _check_dates(statement: Mapping[str, Any], refuse: Any) -> None:
    for name, earliest in DATES.items():
        text = statement.get(name)
        if text is None:
            continue
        try:
            day = date.fromisoformat(text) if isinstance(text, str) and len(text) == 10 else None
        except ValueError:
            day = None
        if day is None:
            refuse(name, f"{name} {text!r} is not a YYYY-MM-DD date")
        elif earliest is not None and day < earliest:
            refuse(name, f"{name} {text!r} is before {earliest.isoformat()}")


def check_statement(statement: Mapping[str, Any]) -> None:
    """InvalidFieldError naming every refused field and its value."""
    errors = field_errors(statement)
    if errors:
        said = "; ".join(why for whys in errors.values() for why in whys)
        raise InvalidFieldError(f"statement of reasons refused: {said}")
