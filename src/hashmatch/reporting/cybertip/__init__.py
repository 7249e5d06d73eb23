"""NCMEC's CyberTipline Reporting API ("ispws"): what a report holds
(``content``), its XML (``report_xml``), NCMEC's answers (``responses``), the
HTTP client (``client``) and a local server that behaves like it
(``simulator``)."""
