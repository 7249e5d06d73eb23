"""Reports reach NCMEC for real only when cybertip_url names production, exactly."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hashmatch.cli.serve_command import announce_reporting
from hashmatch.errors import EvidenceKeyError
from hashmatch.reporting.cybertip.environment import banner, environment_of
from hashmatch.settings import PRODUCTION_CYBERTIP_URL, TEST_CYBERTIP_URL, Settings


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (TEST_CYBERTIP_URL, "test"),
        (PRODUCTION_CYBERTIP_URL, "production"),
        (PRODUCTION_CYBERTIP_URL + "/", "production"),
        ("http://127.0.0.1:8765", "test"),
        ("https://report.cybertip.org.example.com/ispws", "test"),
        ("http://report.cybertip.org/ispws", "test"),
    ],
)
def test_only_the_production_address_is_production(url: str, expected: str) -> None:
    assert environment_of(url) == expected


def test_the_default_is_the_test_environment() -> None:
    settings = Settings.load({})
    assert environment_of(settings.cybertip_url) == "test"
    assert "TEST environment" in banner(settings)


def test_production_is_said_loudly() -> None:
    line = banner(Settings.load({"cybertip_url": PRODUCTION_CYBERTIP_URL}))
    assert line.startswith("CYBERTIPLINE: PRODUCTION")
    assert "for real" in line


def test_the_password_is_never_shown() -> None:
    settings = Settings.load({"cybertip_password": "s3cret-pass"})
    assert "s3cret-pass" not in repr(settings)
    assert "s3cret-pass" not in banner(settings)
    assert settings.cybertip_password.get_secret_value() == "s3cret-pass"


def test_start_up_says_where_reports_go_and_checks_the_evidence_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("test-start-up")
    with caplog.at_level(logging.INFO, logger="test-start-up"):
        announce_reporting(Settings.load({"cybertip_url": PRODUCTION_CYBERTIP_URL}), logger)
        announce_reporting(Settings.load({"cybertip_enabled": True}), logger)
    levels = [(record.levelname, record.getMessage()[:24]) for record in caplog.records]
    assert levels[0] == ("WARNING", "CYBERTIPLINE: PRODUCTION")
    assert levels[1][0] == "INFO"
    assert "no evidence key is set" in caplog.records[2].getMessage()
    bad = tmp_path / "evidence.key"
    bad.write_text("not a key\n")
    with pytest.raises(EvidenceKeyError, match="evidence_key_file"):
        announce_reporting(Settings.load({"evidence_key_file": str(bad)}), logger)
