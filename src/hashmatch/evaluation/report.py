"""The evaluation's table, from its JSON lines: recall per transform, false
matches, the closest wrong picture, time per query; as Markdown, CSV and
JSON, with recall-vs-threshold plots as SVG and PNG.

    rows = table(read_records(out / RESULTS_FILE), transform_names)
    write_reports(out, rows, records)

Recall and false matches are the matcher's verdicts (every stage it runs);
the plots are PDQ distances alone, the curve to choose a threshold on.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from hashmatch.evaluation.run import DISTRACTOR
from hashmatch.pdq import MIN_MATCH_QUALITY
from hashmatch.signals.pdq import PdqSignal

#: The report files written into the output folder.
MARKDOWN_FILE = "eval.md"
CSV_FILE = "eval.csv"
JSON_FILE = "eval.json"
PLOT_FILES = ("recall_vs_threshold.svg", "recall_vs_threshold.png")
#: The PDQ distances the plots span (256 bits; unrelated pictures sit near 128).
PLOT_DISTANCES = range(0, 129)


@dataclass(frozen=True)
class Row:
    """One transform's line of the table (or the distractors', whose recall
    is empty: nothing is theirs to find)."""

    transform: str
    queries: int
    matched: int
    recall: float | None
    #: The recall PDQ alone would give: the query within the threshold of its
    #: image's own hash (no stored variant, no other stage).
    pdq_alone_recall: float | None
    false_matches: int
    #: The least PDQ distance from a query to a picture not its own.
    closest_wrong_distance: int | None
    ms_per_query: float | None
    errors: int


COLUMNS = tuple(field.name for field in fields(Row))


def table(records: Iterable[dict[str, Any]], order: Iterable[str]) -> list[Row]:
    """One row per transform in ``order`` that has records, then the
    distractors' row."""
    by_transform: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_transform.setdefault(record["transform"], []).append(record)
    names = [name for name in (*order, DISTRACTOR) if name in by_transform]
    return [_row(name, by_transform[name]) for name in names]


def _row(name: str, records: list[dict[str, Any]]) -> Row:
    matched = sum(bool(record["matched"]) for record in records)
    wrong = [r["closest_other"] for r in records if r.get("closest_other") is not None]
    times = [r["hash_ms"] + r["match_ms"] for r in records if "match_ms" in r]
    return Row(
        transform=name,
        queries=len(records),
        matched=matched,
        recall=None if name == DISTRACTOR else round(matched / len(records), 3),
        pdq_alone_recall=None if name == DISTRACTOR else round(_pdq_alone(records), 3),
        false_matches=sum(bool(record["false_matches"]) for record in records),
        closest_wrong_distance=min(wrong) if wrong else None,
        ms_per_query=round(sum(times) / len(times), 1) if times else None,
        errors=sum("error" in record for record in records),
    )


def _pdq_alone(records: list[dict[str, Any]]) -> float:
    limit = PdqSignal.default_threshold
    found: int = sum(
        record.get("own_original_distance") is not None
        and record["own_original_distance"] <= limit
        and (record.get("quality") or 0) >= MIN_MATCH_QUALITY
        for record in records
    )
    return found / len(records)


def markdown(rows: list[Row]) -> str:
    """The table as GitHub Markdown."""
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" if c == "transform" else "---:" for c in COLUMNS) + "|",
    ]
    for row in rows:
        cells = ["" if value is None else str(value) for value in asdict(row).values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_reports(out: Path, rows: list[Row], records: list[dict[str, Any]]) -> list[Path]:
    """Write the table as Markdown, CSV and JSON and the plots; the paths."""
    (out / MARKDOWN_FILE).write_text(markdown(rows))
    with (out / CSV_FILE).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)
    (out / JSON_FILE).write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n")
    plots = _plot(out, [row.transform for row in rows], records)
    return [out / MARKDOWN_FILE, out / CSV_FILE, out / JSON_FILE, *plots]


def _share_within(distances: list[int | None], limit: int) -> float:
    return sum(d is not None and d <= limit for d in distances) / max(len(distances), 1)


def _plot(out: Path, names: list[str], records: list[dict[str, Any]]) -> list[Path]:
    """Recall (share of a transform's queries within the distance of their
    own picture) and the distractors' false-match share, per PDQ threshold."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, no GUI toolkit
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(10, 6.5))
    try:
        styles = ("-", "--", ":", "-.")
        for number, name in enumerate(names):
            if name == DISTRACTOR:
                key, label, style = "closest_other", "distractors: false-match share", "k-"
            else:
                key, label, style = "own_distance", name, styles[number // 10 % len(styles)]
            distances = [r.get(key) for r in records if r["transform"] == name]
            curve = [_share_within(distances, limit) for limit in PLOT_DISTANCES]
            width = 2.5 if name == DISTRACTOR else 1.2
            axes.plot(list(PLOT_DISTANCES), curve, style, label=label, linewidth=width)
        limit = PdqSignal.default_threshold
        axes.axvline(limit, color="grey", linestyle=":", label=f"default threshold ({limit})")
        axes.set_xlabel("PDQ distance threshold (bits)")
        axes.set_ylabel("share of queries within the threshold")
        axes.set_title("Recall vs threshold (PDQ, stored variants included)")
        axes.set_xlim(0, PLOT_DISTANCES[-1])
        axes.set_ylim(0, 1.02)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7, ncol=2, loc="lower right")
        figure.tight_layout()
        paths = [out / name for name in PLOT_FILES]
        for path in paths:
            figure.savefig(path, dpi=110)
    finally:
        pyplot.close(figure)
    return paths
