"""Banks of known content: the catalog of banks and contents, the checks on
what they accept, and the bulk write path.

    banks = Banks(Database.open(url))
    banks.create("known-images", labels=["A1"])
"""

from hashmatch.banks.catalog import Banks
from hashmatch.banks.checks import (
    BANK_KINDS,
    CLASSIFICATIONS,
    check_labels,
    check_thresholds,
)
from hashmatch.banks.records import BankInfo, ContentInfo, ImportResult

__all__ = [
    "BANK_KINDS",
    "CLASSIFICATIONS",
    "BankInfo",
    "Banks",
    "ContentInfo",
    "ImportResult",
    "check_labels",
    "check_thresholds",
]
