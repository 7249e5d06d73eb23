"""The coalition's annual report (``annual_report``) as JSON, CSV or a
standalone HTML page with charts drawn here as inline SVG (no script).

    render(report, "html")       # headlines, charts, then the tables
    report_body(report, level=2) # the same content for the web UI's layout

Each chart is an ``<svg role="img">`` with a ``<title>`` and ``<desc>``, and
a table of the same numbers follows it (as the transparency page does).
"""

from __future__ import annotations

import csv
import io
from html import escape
from typing import Any

from hashmatch.reporting.transparency.formats import (
    MEDIA_TYPES,
    STYLE,
    _number,
    as_json,
    change_text,
    check_format,
    share_chart,
)

__all__ = ["MEDIA_TYPES", "download_name", "render", "report_body"]

#: The CSV: a row per figure (``value`` over every reporting member; ``compared_value``
#: and ``previous`` over those that reported both periods), then the national
#: totals, the coalition's own counts and each member shown.
CSV_FIELDS = (
    "period", "kind", "section", "name", "key", "value", "compared_value", "previous",
    "change_percent",
)  # fmt: skip
_FILLS = ("#4a6fa5", "#c0504d")


def download_name(report: dict[str, Any], output_format: str) -> str:
    return f"coalition-{report['period']['name']}.{check_format(output_format)}"


def render(report: dict[str, Any], output_format: str) -> str:
    writers = {"json": as_json, "csv": as_csv, "html": as_html}
    return writers[check_format(output_format)](report)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def as_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    period = report["period"]["name"]

    def line(kind: str, section: str, name: str, key: str, value: Any, *more: Any) -> None:
        cells = [value, *more] + [None] * (3 - len(more))
        writer.writerow([period, kind, section, name, key, *(_cell(c) for c in cells)])

    for row in report["figures"]:
        line("figure", row["section"], row["name"], row["key"], row["value"],
             row["compared_value"], row["previous"], row["change_percent"])  # fmt: skip
    for national in report["national_totals"]:
        source = national["source"]
        line("national_total", source, "total", "", national["total"])
        line("national_total", source, "from_members", "", national["members_value"])
        line("national_total", source, "share_percent", "", national["share_percent"])
    summary = {
        ("members", "total"): report["members"]["total"],
        ("members", "new"): report["members"]["new"],
        ("members", "reporting"): report["members"]["reporting"],
        ("hash_technologies", "members"): report["hash_technologies"]["members"],
        ("signals_shared", "indicators"): report["signals_shared"]["indicators"],
        **{("feedback", k): v for k, v in report["signals_shared"]["feedback"].items()},
        ("forums", "held"): report["forums"]["held"],
        ("forums", "participants"): report["forums"]["participants"],
        ("forums", "countries"): report["forums"]["countries"],
    }
    for (section, name), value in summary.items():
        line("coalition", section, name, "", value)
    for member in report["per_member"]:
        for words, figure in member["figures"].items():
            line("member", member["member"], words, "", figure["value"], None,
                 figure["previous"], figure["change_percent"])  # fmt: skip
    return buffer.getvalue()


def bar_chart(
    chart_id: str, title: str, bars: list[tuple[str, list[float]]], series: list[str]
) -> str:
    """Horizontal bars, one group per label, one bar per series, all on one scale."""
    width, label_width, bar = 640, 200, 16
    group = bar * len(series) + 10
    height = max(group * len(bars), 20) + 20
    peak = max((v for _, vs in bars for v in vs), default=0) or 1
    shapes: list[str] = []
    for index, (label, values) in enumerate(bars):
        y = index * group
        shapes.append(f'<text x="0" y="{y + bar:.0f}" font-size="12">{escape(label[:32])}</text>')
        for s, value in enumerate(values):
            size = (width - label_width - 80) * value / peak
            shapes.append(
                f'<rect x="{label_width}" y="{y + s * bar}" width="{size:.1f}" '
                f'height="{bar - 2}" fill="{_FILLS[s % len(_FILLS)]}"><title>{escape(label)} '
                f"{escape(series[s])}: {_number(value)}</title></rect>"
                f'<text x="{label_width + size + 4:.1f}" y="{y + s * bar + bar - 4}" '
                f'font-size="11">{_number(value)}</text>'
            )
    described = "; ".join(
        f"{escape(label)}: "
        + ", ".join(f"{escape(series[s])} {_number(v)}" for s, v in enumerate(values))
        for label, values in bars
    )
    return (
        f'<svg role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{described or "no figures"}.</desc>{"".join(shapes)}</svg>'
    )


def _table(caption: str, header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in header)
    body = "".join(
        f'<tr><th scope="row">{escape(row[0])}</th>'
        + "".join(f"<td>{escape(cell)}</td>" for cell in row[1:])
        + "</tr>"
        for row in rows
    )
    return (
        f'<table class="figures"><caption>{escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _headline_section(report: dict[str, Any], level: int) -> str:
    from hashmatch.hub.annual_report import HEADLINE_FIGURES

    period = report["period"]
    by_where = {(r["section"], r["name"], r["key"]): r for r in report["figures"]}
    rows = [(words, by_where.get(where)) for where, words in HEADLINE_FIGURES.items()]
    found = [(words, row) for words, row in rows if row is not None]
    chart = bar_chart(
        "change",
        f"Members that reported both {period['previous']} and {period['name']}",
        [(words, [row["previous"] or 0, row["compared_value"] or 0]) for words, row in found],
        [period["previous"], period["name"]],
    )
    table = _table(
        "Figures, all reporting members",
        ["Figure", "All members", f"Compared: {period['name']}", period["previous"], "Change"],
        [
            [words, _number(row["value"]), _number(row["compared_value"]),
             _number(row["previous"]), change_text(row["change_percent"])]
            for words, row in found
        ],
    )  # fmt: skip
    compared = ", ".join(report["compared_members"]) or "none"
    return (
        f'<section class="chart"><h{level}>Change from {escape(period["previous"])}</h{level}>'
        f"<p>Counted across the members that reported both periods: {escape(compared)}.</p>"
        f"{chart}{table}</section>"
    )


def _national_section(report: dict[str, Any], level: int) -> str:
    parts = []
    for national in report["national_totals"]:
        members = min(national["members_value"], national["total"])
        shares = {"members": members, "others": national["total"] - members}
        parts.append(
            share_chart(shares, f"Share of {national['source']} reports from members")
            + _table(
                national["source"],
                ["Source", "National total", "From members", "Share"],
                [
                    [
                        national["source"],
                        _number(national["total"]),
                        _number(national["members_value"]),
                        "—"
                        if national["share_percent"] is None
                        else f"{national['share_percent']}%",
                    ]
                ],
            )
        )
    if not parts:
        return ""
    return f'<section class="chart"><h{level}>National totals</h{level}>{"".join(parts)}</section>'


def _member_section(report: dict[str, Any], level: int) -> str:
    members = report["per_member"]
    if not members:
        return ""
    words = "CyberTipline reports filed"
    chart = bar_chart(
        "members",
        f"{words} per member",
        [(m["member"], [m["figures"][words]["value"] or 0]) for m in members],
        [report["period"]["name"]],
    )
    table = _table(
        "Per member",
        ["Member", *list(members[0]["figures"]), "Hash technologies"],
        [
            [m["member"], *[_number(f["value"]) for f in m["figures"].values()],
             "yes" if m["deploys_hash_technologies"] else "no"]
            for m in members
        ],
    )  # fmt: skip
    return f'<section class="chart"><h{level}>Members</h{level}>{chart}{table}</section>'


def _coalition_table(report: dict[str, Any]) -> str:
    forums = report["forums"]
    rows = [
        [
            forum["date"],
            forum["title"],
            _number(forum["participants"]),
            ", ".join(forum["countries"]),
        ]
        for forum in forums["list"]
    ]
    return _table("Forums", ["Date", "Title", "Participants", "Countries"], rows)


def report_body(report: dict[str, Any], *, level: int = 1) -> str:
    period = report["period"]
    headlines = "".join(f"<li>{escape(line)}</li>" for line in report["headlines"])
    return (
        f'<div class="annual-report"><h{level}>Coalition annual report '
        f"{escape(period['name'])}</h{level}>"
        f"<p>From {escape(period['start'])} to {escape(period['end'])} (UTC, end excluded), "
        f"compared with {escape(period['previous'])}. Generated {escape(report['generated_at'])}"
        f"; {report['members']['reporting']} members sent their figures.</p>"
        f'<ul class="headlines">{headlines}</ul>'
        f"{_headline_section(report, level + 1)}{_national_section(report, level + 1)}"
        f"{_member_section(report, level + 1)}"
        f"<section><h{level + 1}>Forums</h{level + 1}>{_coalition_table(report)}</section></div>"
    )


def as_html(report: dict[str, Any]) -> str:
    title = f"Coalition annual report {report['period']['name']}"
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{report_body(report)}</body></html>\n"
    )
