"""The README runs as written: its shell blocks, in order, on a fresh install.

A new user runs the first block (install, then ``serve``), keeps the server
running, and goes on with the next sections in another terminal.  Here the
server is a real ``hashmatch serve`` process on a free port with a fresh data
folder, and every later ``sh`` block runs in one bash script, in order, from
a folder that stands for the clone (the virtual environment, ``src`` and
``tests`` linked into it; whatever the blocks write stays there).  A block
that must not run here is marked ``<!-- not run by tests/test_readme.py: why -->``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hashmatch.cli import app
from tests.servers import free_port, start_server, wait_ready

ROOT = Path(__file__).resolve().parent.parent
SKIP_MARK = "<!-- not run by tests/test_readme.py"
#: The blocks before these are the install (with ``serve``) and the test command.
FIRST_RUN_BLOCK = 2


def shell_blocks(text: str) -> list[str]:
    """Every ``sh`` block after the first two, less the ones marked not to run."""
    found = re.finditer(r"^([^\n]*)\n```sh\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    blocks = [(before, body) for before, body in (m.groups() for m in found)]
    return [body for before, body in blocks[FIRST_RUN_BLOCK:] if not before.startswith(SKIP_MARK)]


def json_objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object in a run's output (curl ends none of its answers
    with a new line, so they are not one per line)."""
    decoder = json.JSONDecoder()
    objects, at = [], text.find("{")
    while at != -1:
        try:
            found, end = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            end = at + 1
        else:
            objects.append(found)
        at = text.find("{", end)
    return objects


def test_blocks_are_found_and_the_skipped_ones_are_marked() -> None:
    blocks = shell_blocks((ROOT / "README.md").read_text())
    assert any("keys create" in block for block in blocks)
    assert not any("benchmarks/" in block or "ruff" in block for block in blocks)


@pytest.mark.slow
def test_readme_runs_in_order_on_a_fresh_install(tmp_path: Path) -> None:
    clone, data = tmp_path / "clone", tmp_path / "data"
    clone.mkdir()
    data.mkdir()
    for name in (".venv", "src", "tests"):
        (clone / name).symlink_to(ROOT / name)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("HASHMATCH_") or name == "HASHMATCH_TEST_POSTGRES_URL"
    }
    env["HASHMATCH_DATA_DIR"] = str(data)
    database_url = f"sqlite:///{data / 'hashmatch.db'}"
    port = free_port()
    script = "\n".join(shell_blocks((ROOT / "README.md").read_text()))
    script = script.replace("localhost:5100", f"127.0.0.1:{port}")
    server, base = start_server(database_url, data, port=port)
    try:
        # The README's user waits for the server before using it; so does this.
        created = CliRunner().invoke(
            app,
            ["--database-url", database_url, "keys", "create", "-n", "readme-test", "-s", "match"],
        )
        wait_ready(base, created.stdout.strip(), seconds=180)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert result.returncode == 0, result.stderr[-3000:]
    assert '"error"' not in result.stdout, result.stdout[-3000:]
    records = json_objects(result.stdout)
    lookups = [r for r in records if set(r) == {"matches"}]
    assert lookups
    assert lookups[0]["matches"][0]["bank"] == "known"
    [matched] = [r for r in records if "matches" in r and "signals" in r and "path" not in r]
    assert matched["matches"] == []  # the photo is not in the bank: what the README says
    rotated = next(r for r in records if r.get("path", "").endswith("nature-beach-malibu--2.jpg"))
    assert [m["external_id"] for m in rotated["matches"]] == ["beach"]
    assert "with A rotate90 (match" in result.stdout
    assert (clone / "photos.jsonl").read_text().count('"content_id"') == 1351
    [submitted] = [r for r in records if "submission_id" in r]
    assert submitted["verdict"] == "review"  # the default rule, as the README says
    assert [m["bank"] for m in submitted["matches"]] == ["known"]
    assert "1 upload-1" in result.stdout  # the review item the submission opened
    assert "\nclosed false_positive\n" in result.stdout
    assert "submissions 1 false positives 1" in result.stdout  # the transparency report
    [chain] = [r for r in records if "head" in r]
    assert chain["ok"] is True
