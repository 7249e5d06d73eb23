"""Docs that are tested: the CLI reference and the README's commands."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from hashmatch.apikeys import SCOPES
from hashmatch.banks import BANK_KINDS
from hashmatch.cli.reference import reference

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_is_current() -> None:
    assert (ROOT / "docs" / "cli.md").read_text() == reference(), (
        "docs/cli.md is stale: run python -m hashmatch.cli.reference > docs/cli.md"
    )


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    blocks = text.split("```")
    first_block = blocks[1]
    assert "hashmatch serve" in first_block
    assert "pytest" in blocks[3]
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = blocks[3].strip().splitlines()[-1].strip()
    assert test_command in ci, f"{test_command!r} is not what .ci/run runs"


def test_readme_library_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's "Use it as a library" block, as a doctest."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Use it as a library", 1)[1]
    example = section.split("```python", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(ROOT)
    test = doctest.DocTestParser().get_doctest(example, {}, "README", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.failures == 0
    assert runner.tries >= 10


def test_help_is_plain_text() -> None:
    """No reStructuredText (``literal``, :class:) in any command's help, and
    arguments named in capitals in the usage lines ({NAME}, not {name})."""
    for section in reference().split("\n## ")[1:]:
        usage, help_text = section.split("```")[1], section.split("```")[2]
        assert "``" not in help_text, section
        assert ":class:" not in help_text, section
        assert all(word.isupper() for word in usage.split() if word.startswith("{")), usage


def test_help_that_lists_the_librarys_choices_lists_them_all() -> None:
    """Help is written out (so --help imports no database code): keep it true."""
    sections = {s.split("\n", 1)[0]: s for s in reference().split("\n## ")[1:]}
    assert all(scope in sections["hashmatch keys create"] for scope in SCOPES)
    assert all(kind in sections["hashmatch bank create"] for kind in BANK_KINDS)
