"""Transparency reports: figures per period (``periods``) counted in SQL
(``counts``, ``figures``), written as JSON, CSV or HTML (``formats``), with
the lookups that leave no row of their own counted in batches (``usage``)."""

from hashmatch.reporting.transparency.figures import transparency

__all__ = ["transparency"]
