"""Evidence preservation: what a finished CyberTipline report preserved,
encrypted at rest (``keys``: a data key per object, wrapped by the master
key), in a folder or a bucket (``store``), kept until its retention ends or
its legal holds are released (``purge``), read and exported (``export``)
only by ``legal`` and ``admin``, every access audited (``packages``)."""

from hashmatch.reporting.evidence.packages import Evidence

__all__ = ["Evidence"]
