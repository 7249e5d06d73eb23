"""A perceptual type from a plugin is matched by Hamming distance, within its
threshold, in an index of its own: the type decides, not a list of names."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashmatch.banks import Banks
from hashmatch.errors import BankError
from hashmatch.hashlists import Entry
from hashmatch.live_indexes import hamming_type
from hashmatch.matching import Matcher
from hashmatch.signals import registry
from hashmatch.store import Database

TOY = "a5" * 32


def flip(value: str, bits: int) -> str:
    """``value`` with its lowest ``bits`` bits flipped."""
    width = len(value)
    return f"{int(value, 16) ^ ((1 << bits) - 1):0{width}x}"


def _forget_types() -> None:
    registry.signal_types.cache_clear()
    hamming_type.cache_clear()


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[None]:
    """Install the plugin's entry points (a dist-info folder on sys.path)."""
    info = tmp_path / "site" / "toy_signals-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-signals\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[hashmatch.signal_types]\n"
        "toy256 = tests.plugin_signals:Toy256Signal\n"
        "toy64 = tests.plugin_signals:Toy64Signal\n"
    )
    sys.path.insert(0, str(info.parent))
    _forget_types()
    yield
    sys.path.remove(str(info.parent))
    _forget_types()


@pytest.mark.usefixtures("plugin")
def test_a_plugin_type_matches_by_distance_within_its_threshold(database: Database) -> None:
    banks = Banks(database)
    banks.create("toys")
    content = banks.add("toys", Entry({"toy256": TOY}))
    matcher = Matcher(database)
    [match] = matcher.match_hashes({"toy256": [flip(TOY, 20)]})
    assert (match.content_id, match.signal_type, match.distance) == (content, "toy256", 20)
    assert matcher.match_hashes({"toy256": [flip(TOY, 21)]}) == []
    # Its own index: the same bits as a PDQ hash find nothing.
    assert matcher.match_hashes({"pdq": [TOY]}) == []
    banks.update("toys", thresholds={"toy256": 24})
    matcher.rules = type(matcher.rules)(database)  # no wait for the threshold cache
    assert [m.distance for m in matcher.match_hashes({"toy256": [flip(TOY, 23)]})] == [23]


@pytest.mark.usefixtures("plugin")
def test_a_narrow_plugin_type_and_a_running_matcher(database: Database) -> None:
    banks = Banks(database)
    banks.create("toys")
    matcher = Matcher(database)
    banks.add("toys", Entry({"toy64": "00ff00ff00ff00ff"}))
    matcher.refresh()  # followed from the change log, in a new space
    assert [m.distance for m in matcher.match_hashes({"toy64": ["00ff00ff00ff00f0"]})] == [4]
    assert matcher.match_hashes({"toy64": ["00ff00ff00ff0000"]}) == []
    assert matcher.sizes()["toy64"] == 1


@pytest.mark.usefixtures("plugin")
def test_plugin_thresholds_are_bounded_by_the_type(database: Database) -> None:
    banks = Banks(database)
    with pytest.raises(BankError, match="0-32"):
        banks.create("toys", thresholds={"toy64": 33})
    with pytest.raises(BankError, match="0-128"):
        banks.create("pdqs", thresholds={"pdq": 2**70})
    assert banks.create("toys", thresholds={"toy64": 32}).thresholds == {"toy64": 32}


@pytest.mark.usefixtures("plugin")
def test_each_space_has_its_snapshot(database: Database, tmp_path: Path) -> None:
    banks = Banks(database)
    banks.create("mixed")
    banks.add("mixed", Entry({"toy256": TOY}))
    banks.add("mixed", Entry({"pdq": "f" * 64}))
    Matcher(database, tmp_path / "index")  # builds and writes a snapshot per space
    assert sorted(p.name for p in (tmp_path / "index").iterdir() if not p.name.startswith(".")) == [
        "pdq",
        "toy256",
    ]
    banks.add("mixed", Entry({"toy256": flip(TOY, 100)}))
    mapped = Matcher(database, tmp_path / "index")  # maps both, replays the later add
    index = mapped.indexes.hamming_index("toy256")
    assert index is not None
    assert len(index) == 2
    assert [m.distance for m in mapped.match_hashes({"toy256": [flip(TOY, 3)]})] == [3]
    assert [m.distance for m in mapped.match_hashes({"pdq": ["f" * 64]})] == [0]
