"""The coalition hub: members, signed STIX 2.1 signals, keys."""
