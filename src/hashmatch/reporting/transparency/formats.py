"""A transparency record (``transparency.transparency``) as JSON, CSV or a
standalone HTML page with server-rendered SVG charts.

    as_json(report)    # the record itself: what a coalition hub aggregates
    as_csv(report)     # one row per figure: CSV_FIELDS
    as_html(report)    # a page: tables, a monthly trend chart, a classification chart

The HTML has no script and no outside stylesheet; each chart is an ``<svg
role="img">`` with a ``<title>`` and ``<desc>`` and a table of the same
numbers beside it.  ``report_body`` is the page's content alone, for the web
UI to put inside its own layout.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from html import escape
from typing import Any

from hashmatch.errors import TransparencyError

FORMATS = ("json", "csv", "html")
MEDIA_TYPES = {"json": "application/json", "csv": "text/csv", "html": "text/html"}
#: The CSV's columns: ``key`` is empty for a one-number figure, else the
#: bank, label, signal type, verdict, action, decision or classification.
CSV_FIELDS = ("period", "section", "name", "key", "value", "previous", "change_percent")

SECTION_TITLES = {
    "content_scanned": "Content scanned",
    "matches": "Matches",
    "verdicts": "Verdicts",
    "actions": "Actions taken",
    "review_decisions": "Review decisions",
    "cybertip_reports": "CyberTipline reports",
    "evidence": "Evidence preserved",
    "statements_of_reasons": "Statements of reasons (EU DSA)",
    "complaints": "Complaints (appeals against decisions)",
    "medians_seconds": "Median times (seconds from upload)",
}
#: The monthly trend chart's series and their fills.
TREND = (
    ("submissions", "#4a6fa5"),
    ("matched_submissions", "#c0504d"),
    ("reports_filed", "#2e7d32"),
)
SHARE_FILLS = ("#4a6fa5", "#c0504d", "#e3a21a", "#2e7d32", "#7f7f7f")


def check_format(name: str) -> str:
    if name not in FORMATS:
        raise TransparencyError(f"format {name!r} is not one of {', '.join(FORMATS)}")
    return name


def download_name(report: dict[str, Any], output_format: str) -> str:
    """ "transparency-2026-Q3.csv": the period's name is all digits, "Q" and "-"."""
    return f"transparency-{report['period']['name']}.{check_format(output_format)}"


def render(report: dict[str, Any], output_format: str) -> str:
    """``report`` in ``output_format`` ("json", "csv" or "html")."""
    writers = {"json": as_json, "csv": as_csv, "html": as_html}
    return writers[check_format(output_format)](report)


def as_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def figure_rows(report: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(section, name, key, figure) for every figure, in the record's order."""
    for section, named in report["figures"].items():
        for name, value in named.items():
            if "value" in value and not isinstance(value["value"], dict):
                yield section, name, "", value
                continue
            for key, figure in value.items():
                yield section, name, key, figure


def _cell(value: float | None) -> str:
    return "" if value is None else str(value)


def as_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    period = report["period"]["name"]
    for section, name, key, figure in figure_rows(report):
        writer.writerow(
            [
                period,
                section,
                name,
                key,
                _cell(figure["value"]),
                _cell(figure["previous"]),
                _cell(figure["change_percent"]),
            ]
        )
    return buffer.getvalue()


def change_text(change: float | None) -> str:
    """ "+29%", "-4.5%", "0%"; "—" when there was nothing before to compare with."""
    if change is None:
        return "—"
    shown = f"{change:.1f}".removesuffix(".0")
    return f"+{shown}%" if change > 0 else f"{shown}%"


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.1f}".removesuffix(".0") if isinstance(value, float) else f"{value:,}"


def _table(caption: str, rows: list[tuple[str, dict[str, Any]]], previous: str) -> str:
    body = "".join(
        f'<tr><th scope="row">{escape(label)}</th><td>{_number(f["value"])}</td>'
        f"<td>{_number(f['previous'])}</td><td>{change_text(f['change_percent'])}</td></tr>"
        for label, f in rows
    )
    return (
        f'<table class="figures"><caption>{escape(caption)}</caption>'
        f'<thead><tr><th scope="col">Figure</th><th scope="col">This period</th>'
        f'<th scope="col">{escape(previous)}</th><th scope="col">Change</th></tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _label(name: str, key: str) -> str:
    words = name.replace("_", " ")
    return f"{words}: {key}" if key else words


def _section_tables(report: dict[str, Any], level: int) -> str:
    previous = report["period"]["previous"]
    by_section: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for section, name, key, figure in figure_rows(report):
        by_section.setdefault(section, []).append((_label(name, key), figure))
    return "".join(
        f"<section><h{level}>{escape(SECTION_TITLES.get(section, section))}</h{level}>"
        f"{_table(SECTION_TITLES.get(section, section), rows, previous)}</section>"
        for section, rows in by_section.items()
    )


def trend_chart(monthly: list[dict[str, Any]]) -> str:
    """Grouped bars per month: submissions, matched submissions, reports filed,
    each scaled to its own largest month (their sizes differ by orders of
    magnitude); the table beside it has the numbers."""
    width, height, top, bottom = 640, 220, 10, 30
    slot = width / max(len(monthly), 1)
    bar = slot / (len(TREND) + 1)
    peaks = {name: max((m[name] for m in monthly), default=0) or 1 for name, _ in TREND}
    shapes: list[str] = []
    for index, month in enumerate(monthly):
        for series, (name, fill) in enumerate(TREND):
            size = (height - top - bottom) * month[name] / peaks[name]
            x = index * slot + (series + 0.5) * bar
            shapes.append(
                f'<rect x="{x:.1f}" y="{height - bottom - size:.1f}" width="{bar:.1f}" '
                f'height="{size:.1f}" fill="{fill}"><title>{month["month"]} '
                f"{name.replace('_', ' ')}: {month[name]:,}</title></rect>"
            )
        shapes.append(
            f'<text x="{index * slot + slot / 2:.1f}" y="{height - 10}" font-size="11" '
            f'text-anchor="middle">{month["month"]}</text>'
        )
    legend = ", ".join(name.replace("_", " ") for name, _ in TREND)
    return (
        f'<svg role="img" aria-labelledby="trend-title trend-desc" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}"><title id="trend-title">Trend per month</title>'
        f'<desc id="trend-desc">Bars per month for {legend}, each series scaled to its '
        f"largest month; the table beside the chart gives the numbers.</desc>"
        f"{''.join(shapes)}</svg>"
    )


def share_chart(shares: dict[str, int], title: str) -> str:
    """One horizontal bar split by share (e.g. reported files by classification)."""
    width, height = 640, 60
    total = sum(shares.values())
    shapes: list[str] = []
    x = 0.0
    for index, (key, count) in enumerate(shares.items()):
        if total == 0 or count == 0:
            continue
        size = width * count / total
        fill = SHARE_FILLS[index % len(SHARE_FILLS)]
        shapes.append(
            f'<rect x="{x:.1f}" y="0" width="{size:.1f}" height="{height - 20}" fill="{fill}">'
            f"<title>{escape(key)}: {count:,} ({100 * count / total:.1f}%)</title></rect>"
        )
        if size > 40:
            shapes.append(
                f'<text x="{x + size / 2:.1f}" y="{height - 5}" font-size="11" '
                f'text-anchor="middle">{escape(key)}</text>'
            )
        x += size
    described = "; ".join(f"{escape(k)} {v:,}" for k, v in shares.items()) or "none"
    return (
        f'<svg role="img" aria-labelledby="share-title share-desc" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}"><title id="share-title">{escape(title)}</title>'
        f'<desc id="share-desc">Share of {total:,}: {described}.</desc>{"".join(shapes)}</svg>'
    )


def _chart_tables(report: dict[str, Any], level: int) -> str:
    monthly = report["monthly"]
    header = "".join(f'<th scope="col">{name.replace("_", " ")}</th>' for name, _ in TREND)
    rows = "".join(
        f'<tr><th scope="row">{m["month"]}</th>'
        + "".join(f"<td>{m[name]:,}</td>" for name, _ in TREND)
        + "</tr>"
        for m in monthly
    )
    trend_table = (
        f'<table class="figures"><caption>Trend per month</caption><thead><tr>'
        f'<th scope="col">Month</th>{header}</tr></thead><tbody>{rows}</tbody></table>'
    )
    files = report["figures"]["cybertip_reports"]["files_by_classification"]
    shares = {key: figure["value"] for key, figure in files.items()}
    share_rows = "".join(
        f'<tr><th scope="row">{escape(k)}</th><td>{v:,}</td></tr>' for k, v in shares.items()
    )
    title = "Reported files by classification"
    share_table = (
        f'<table class="figures"><caption>{title}</caption><thead><tr><th scope="col">'
        f'Classification</th><th scope="col">Files</th></tr></thead><tbody>{share_rows}'
        "</tbody></table>"
    )
    return (
        f'<section class="chart"><h{level}>Trend per month</h{level}>'
        f"{trend_chart(monthly)}{trend_table}"
        f'</section><section class="chart"><h{level}>{title}</h{level}>{share_chart(shares, title)}'
        f"{share_table}</section>"
    )


def report_body(report: dict[str, Any], *, level: int = 1) -> str:
    """The page's content without ``<html>``: charts, then a table per section;
    the title an ``h<level>`` and the sections one level below (a page that
    has its own ``h1`` asks for 2)."""
    period = report["period"]
    instance = report["instance"]["name"]
    by = f" — {escape(instance)}" if instance else ""
    return (
        f'<div class="transparency"><h{level}>Transparency report '
        f"{escape(period['name'])}{by}</h{level}>"
        f"<p>From {escape(period['start'])} to {escape(period['end'])} (UTC, end excluded), "
        f"compared with {escape(period['previous'])}. Generated {escape(report['generated_at'])};"
        f" schema {escape(report['schema'])}.</p>"
        f"{_chart_tables(report, level + 1)}{_section_tables(report, level + 1)}</div>"
    )


STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#1a1a1a}"
    "table.figures{border-collapse:collapse;margin:1rem 0}"
    "table.figures th,table.figures td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}"
    "table.figures th[scope=row]{text-align:left}caption{font-weight:bold;text-align:left}"
    "svg{max-width:100%;height:auto;display:block}"
)


def as_html(report: dict[str, Any]) -> str:
    title = f"Transparency report {report['period']['name']}"
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{report_body(report)}</body></html>\n"
    )
