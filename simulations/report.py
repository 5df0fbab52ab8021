"""Reports of simulations: one self-contained HTML file (inline SVG charts) plus CSV files.

No JavaScript and nothing fetched: the file opens offline and can be mailed or archived with
the decision it supported.  Every report is stamped with what it was computed from (catalog
hashes, population snapshot, as-of date, seed) so the figures can be reproduced.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from simulations.reach import ALL, Reach

__all__ = ["bar_chart", "write_reach_report"]

_COLORS = ("#9aa5b1", "#c0392b")  # before, after


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return html.escape(str(value))


def bar_chart(
    title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]], *, width: int = 640
) -> str:
    """A horizontal grouped bar chart as an SVG string (one bar per series and label).

    >>> svg = bar_chart("t", ["a", "b"], {"before": [1, 2], "after": [2, 4]})
    >>> svg.startswith("<svg") and svg.count("<rect") == 2 + 4  # legend and bars
    True
    """
    names = list(series)
    top = max((max(v, default=0) for v in series.values()), default=0) or 1
    bar, gap, left, right = 12, 10, 170, 90
    row = bar * len(names) + gap
    height = 40 + row * len(labels) + 20
    scale = (width - left - right) / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{html.escape(title)}">',
        f'<text x="0" y="16" font-weight="bold">{html.escape(title)}</text>',
    ]
    for n, name in enumerate(names):
        x = left + n * 120
        parts.append(f'<rect x="{x}" y="24" width="10" height="10" fill="{_COLORS[n % 2]}"/>')
        parts.append(f'<text x="{x + 14}" y="33" font-size="11">{html.escape(name)}</text>')
    for i, label in enumerate(labels):
        y = 44 + i * row
        parts.append(
            f'<text x="{left - 6}" y="{y + bar}" font-size="12" text-anchor="end">'
            f"{html.escape(label)}</text>"
        )
        for n, name in enumerate(names):
            value = float(series[name][i])
            w = max(value * scale, 0.5 if value else 0)
            by = y + n * bar
            parts.append(
                f'<rect x="{left}" y="{by}" width="{w:.1f}" height="{bar - 2}" '
                f'fill="{_COLORS[n % 2]}"><title>{html.escape(name)}: {value:,.0f}</title></rect>'
            )
            tx = left + w + 4
            parts.append(
                f'<text x="{tx:.1f}" y="{by + bar - 3}" font-size="10">{value:,.0f}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _table(frame: pl.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>" for row in frame.rows()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


_STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC","PingFang SC",sans-serif;margin:1.5rem;color:#1f2933}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:13px}
td,th{border:1px solid #d9dee3;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}
th{background:#f0f2f5}
.stamp{color:#52606d;font-size:12px}
svg{max-width:100%;height:auto;display:block;margin:.5rem 0 1rem}
"""


def write_reach_report(reach: Reach, out: Path, *, stamp: Mapping[str, str]) -> list[Path]:
    """Write ``report.html`` and the CSV files of ``reach`` into ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "policies.csv": reach.policies,
        "groups.csv": reach.groups,
        "overlap.csv": reach.overlap,
    }
    written = []
    for name, frame in files.items():
        path = out / name
        frame.write_csv(path)
        written.append(path)
    charts = []
    overall = reach.groups.filter(pl.col("policy_id") == ALL) if reach.groups.height else None
    if overall is not None:
        for dimension in overall["dimension"].unique(maintain_order=True).to_list():
            part = overall.filter(pl.col("dimension") == dimension).sort("group")
            charts.append(
                bar_chart(
                    f"Eligible by {dimension} · 按{dimension}的符合条件人数",
                    part["group"].to_list(),
                    {
                        "before 改革前": part["eligible_before"].to_list(),
                        "after 改革后": part["eligible_after"].to_list(),
                    },
                )
            )
    policies = reach.policies.filter(pl.col("policy_id") != ALL)
    if policies.height:
        charts.insert(
            0,
            bar_chart(
                "Cost per year (CNY) · 年度成本（元）",
                policies["policy_id"].to_list(),
                {
                    "before 改革前": [float(v) for v in policies["cost_year_before"]],
                    "after 改革后": [float(v) for v in policies["cost_year_after"]],
                },
            ),
        )
    stamp_text = " · ".join(f"{html.escape(k)}: {html.escape(v)}" for k, v in stamp.items())
    changes = "".join(
        f"<li><b>{html.escape(c.change)}</b> {html.escape(c.policy_id)}: "
        f"{html.escape(c.old_eligibility or '—')} → {html.escape(c.new_eligibility or '—')}</li>"
        for c in reach.changes
    )
    page = (
        '<!doctype html><html lang="zh"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>政策推演 Reach of a reform</title><style>{_STYLE}</style></head><body>"
        "<h1>政策推演 · Reach and cost of a reform</h1>"
        f'<p class="stamp">{stamp_text}</p>'
        f"<h2>Changes · 变化</h2><ul>{changes or '<li>none</li>'}</ul>"
        f"<h2>Per policy · 按政策</h2>{_table(reach.policies)}"
        f"<h2>Charts · 图表</h2>{''.join(charts)}"
        f"<h2>By group · 按群体</h2>{_table(overall if overall is not None else reach.groups)}"
        f"<h2>Overlap · 重叠</h2>{_table(reach.overlap.head(50))}"
        "</body></html>"
    )
    report = out / "report.html"
    report.write_text(page, encoding="utf-8")
    written.append(report)
    return written
