"""The coalition's published membership criteria: an applicant attests each
one with evidence (a link or text), and a named hub admin checks each off
before the application may be approved.

    for criterion in CRITERIA:
        print(criterion.key, criterion.text)

The keys are stable: they name the criteria in the API, the CLI, the pages
and the database, so the wording may be edited without touching stored rows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Criterion:
    key: str
    title: str
    text: str


CRITERIA = (
    Criterion(
        "technology",
        "Works in technology",
        "Works in technology and offers a product or service that could be impacted by "
        "child sexual abuse and exploitation.",
    ),
    Criterion(
        "commitment",
        "Committed to act",
        "Is committed to taking the necessary steps to address and prevent abuse and "
        "exploitation, in its own business and across the industry.",
    ),
    Criterion(
        "prohibition",
        "Prohibits abuse",
        "Explicitly prohibits abuse and exploitation in its terms of service, community "
        "guidelines and other published standards.",
    ),
    Criterion(
        "transparency",
        "Transparent and accountable",
        "Supports transparency and accountability.",
    ),
    Criterion(
        "policy",
        "Knows policy and regulation",
        "Is familiar with relevant international policy and regulation.",
    ),
    Criterion(
        "engagement",
        "Engages with civil society",
        "Engages with civil society groups and the coalition's mission.",
    ),
)
CRITERION_KEYS = tuple(criterion.key for criterion in CRITERIA)
