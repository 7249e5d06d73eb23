"""Statements of reasons for the EU Digital Services Act's Transparency
Database: built from a decision (``build``), checked against the API's
fields (``fields``), sent with leases (``sender``), and a local stand-in for
the API (``simulator``).  See docs/statements.md."""
