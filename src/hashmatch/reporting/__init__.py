"""Reporting: CyberTipline reports (``cybertip/``), preserved evidence and
transparency figures."""
