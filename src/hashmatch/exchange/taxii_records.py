"""A TAXII page's STIX objects as bank records: each Indicator checked
against its publisher's signature (as option ``verify_signatures`` says),
read by :func:`hashmatch.hub.stix.parse_indicator`, and made a record.

    reader = IndicatorReader("auto", lambda: trusted_keys(directory), now=utcnow())
    item = reader.item(obj)         # Record, Malformed, or None (not an Indicator)

* ``auto``: an object carrying ``x_hashmatch_signature`` is verified, one
  without is taken as it is (a TAXII server that is not a hashmatch hub);
  ``required``: an unsigned object is refused too; ``off``: none is checked.
* A signature that does not verify, and an object that is not an Indicator
  hashmatch reads, are :class:`Malformed`: counted, sampled, skipped.
* A revoked Indicator, or one whose ``valid_until`` has passed, is a
  deletion of the content its id named.
* A keyed email or username (:mod:`hashmatch.hub.identifiers`) is kept as
  ``hmac-sha256:<key id>:<digest>`` under its signal type: the raw value
  never reaches this member, and no raw value can equal it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from hashmatch.errors import HashmatchError
from hashmatch.exchange.base import Malformed, Record

# KEYED_PREFIX is re-exported: the share side reads stored keyed values back.
from hashmatch.hub.identifiers import KEYED_PREFIX as KEYED_PREFIX
from hashmatch.hub.identifiers import keyed_value
from hashmatch.hub.keys import parse_public_key
from hashmatch.hub.object_intake import member_identity
from hashmatch.hub.signing import SIGNATURE_PROPERTY, TrustedKey, key_ring, verify
from hashmatch.hub.stix import SharedSignal, parse_indicator
from hashmatch.signals import names
from hashmatch.signals.vpdq_compact import frames_from_compact
from hashmatch.store.models import iso_utc

VERIFY_MODES = ("auto", "required", "off")
_SAMPLE = 300


def trusted_keys(directory: Any) -> dict[str, TrustedKey]:
    """Every signing key of a member directory (the hub's ``GET /v1/hub/members``:
    ``{"members": [{"id", "identity"?, "keys": [{"public_key", "revoked_at"}]}]}``),
    by kid; ValueError when it is not one.  A member's Identity is its
    ``identity`` when given, else the one the hub gives member ``id``."""
    members = directory.get("members") if isinstance(directory, dict) else None
    if not isinstance(members, list):
        raise ValueError("the member directory is not {'members': [...]}")
    keys: list[TrustedKey] = []
    try:
        for member in members:
            publisher = member.get("identity") or member_identity(int(member["id"]))
            for key in member["keys"]:
                public = parse_public_key(str(key["public_key"]))
                keys.append(TrustedKey(public, publisher, revoked=bool(key.get("revoked_at"))))
    except (HashmatchError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"the member directory has a bad member: {error}") from None
    return key_ring(keys)


class IndicatorReader:
    """Reads one run's objects; the directory is asked for at the first signed one."""

    def __init__(
        self,
        mode: str,
        directory: Callable[[], Mapping[str, TrustedKey]],
        *,
        now: datetime,
    ) -> None:
        self.mode = mode
        self.now = now
        self._directory = directory
        self._keys: Mapping[str, TrustedKey] | None = None

    def item(self, obj: Any) -> Record | Malformed | None:
        """The record ``obj`` makes, why it cannot, or None for another type."""
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
            return Malformed("not a STIX object", repr(obj)[:_SAMPLE])
        if obj["type"] != "indicator":
            return None
        checked = self.mode == "required" or (self.mode == "auto" and SIGNATURE_PROPERTY in obj)
        if checked and self._keys is None:
            self._keys = self._directory()  # a directory that cannot be read fails the page
        try:
            signer = verify(obj, self._keys).kid if self._keys is not None and checked else None
            signal = parse_indicator(obj, foreign_labels=True)  # another server's labels
        except HashmatchError as error:
            return Malformed(f"{str(obj.get('id'))[:80]}: {error}", repr(obj)[:_SAMPLE])
        return self._record(signal, signer)

    def _record(self, signal: SharedSignal, signer: str | None) -> Record:
        expired = signal.valid_until is not None and signal.valid_until <= self.now
        if signal.revoked or expired:
            return Record(signal.id, deleted=True)
        record = Record(
            signal.id,
            labels=[signal.classification] if signal.classification else [],
            source_metadata={
                "taxii": {
                    "publisher": signal.publisher,
                    "indicator": signal.id,
                    "version": iso_utc(signal.modified),
                    "categories": list(signal.categories),
                    "signed_by": signer,
                }
            },
        )
        if signal.key_id is not None:
            record.signals[signal.signal_type] = keyed_value(signal.key_id, signal.value)
        elif signal.signal_type == names.VPDQ:
            record.frames = frames_from_compact(signal.value)
        else:
            record.signals[signal.signal_type] = signal.value
        return record
