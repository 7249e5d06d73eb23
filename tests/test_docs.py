"""Docs that are tested: the CLI reference and the README's commands."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

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
