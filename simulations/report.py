"""Reports of simulations: one self-contained HTML file (inline SVG charts) plus CSV files.

No JavaScript and nothing fetched: the file opens offline and can be mailed or archived with
the decision it supported.  Every report is stamped with what it was computed from (catalog
hashes, population snapshot, as-of date, seed) so the figures can be reproduced.  The charts
are drawn by :mod:`simulations.charts`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from simulations.charts import Chart
from simulations.reach import ALL, Reach

if TYPE_CHECKING:
    from simulations.timeline import Timeline

__all__ = ["reach_charts", "timeline_charts", "write_reach_report", "write_timeline_report"]


def _write_pngs(charts: Sequence[Chart], out: Path) -> list[Path]:
    from simulations.report_png import write_png

    return [write_png(chart, out / f"{chart.name}.png") for chart in charts]


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return html.escape(str(value))


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


_DIMENSIONS_ZH = {
    "district": "区", "age_band": "年龄段", "gender": "性别", "hukou": "户籍",
    "household_type": "家庭类型", "size_class": "企业规模", "industry": "行业门类",
}  # fmt: skip


def reach_charts(reach: Reach) -> list[Chart]:
    """The reach report's charts: cost per year per policy, eligible by each group dimension."""
    charts = []
    policies = reach.policies.filter(pl.col("policy_id") != ALL)
    if policies.height:
        charts.append(Chart(
            "cost_per_year", "bar", "Cost per year (CNY) · 年度成本（元）",
            tuple(policies["policy_id"].to_list()),
            {"before 改革前": [float(v) for v in policies["cost_year_before"]],
             "after 改革后": [float(v) for v in policies["cost_year_after"]]},
        ))  # fmt: skip
    overall = reach.groups.filter(pl.col("policy_id") == ALL) if reach.groups.height else None
    if overall is not None:
        for dimension in overall["dimension"].unique(maintain_order=True).to_list():
            part = overall.filter(pl.col("dimension") == dimension).sort("group")
            title = f"Eligible by {dimension} · 按{_DIMENSIONS_ZH.get(dimension, dimension)}"
            charts.append(Chart(
                f"eligible_by_{dimension}", "bar", f"{title}的符合条件人数",
                tuple(part["group"].to_list()),
                {"before 改革前": part["eligible_before"].to_list(),
                 "after 改革后": part["eligible_after"].to_list()},
            ))  # fmt: skip
    return charts


def write_reach_report(
    reach: Reach, out: Path, *, stamp: Mapping[str, str], png: bool = False
) -> list[Path]:
    """Write ``report.html`` and the CSV files of ``reach`` into ``out``; returns the paths.

    With ``png``, every chart is also a PNG file (``cost_per_year.png``,
    ``eligible_by_<dimension>.png``).  ``report.html`` is the last path.
    """
    charts = reach_charts(reach)
    overall = reach.groups.filter(pl.col("policy_id") == ALL) if reach.groups.height else None
    changes = "".join(
        f"<li><b>{html.escape(c.change)}</b> {html.escape(c.policy_id)}: "
        f"{html.escape(c.old_eligibility or '—')} → {html.escape(c.new_eligibility or '—')}</li>"
        for c in reach.changes
    )
    body = (
        f"<h2>Changes · 变化</h2><ul>{changes or '<li>none</li>'}</ul>"
        f"<h2>Per policy · 按政策</h2>{_table(reach.policies)}"
        f"<h2>Charts · 图表</h2>{''.join(c.svg() for c in charts)}"
        f"<h2>By group · 按群体</h2>{_table(overall if overall is not None else reach.groups)}"
        f"<h2>Overlap · 重叠</h2>{_table(reach.overlap.head(50))}"
    )
    return _write_report(
        out, {"policies": reach.policies, "groups": reach.groups, "overlap": reach.overlap},
        charts, png=png, title="政策推演 Reach of a reform",
        heading="政策推演 · Reach and cost of a reform", stamp=stamp, body=body,
    )  # fmt: skip


def _write_report(
    out: Path, tables: Mapping[str, pl.DataFrame], charts: Sequence[Chart], *, png: bool,
    title: str, heading: str, stamp: Mapping[str, str], body: str,
) -> list[Path]:  # fmt: skip
    """Write each table as ``<name>.csv``, with ``png`` each chart as a PNG file, and
    ``report.html`` (``heading``, the stamp, ``body``) into ``out``; the paths, the HTML last."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        path = out / f"{name}.csv"
        frame.write_csv(path)
        written.append(path)
    if png:
        written += _write_pngs(charts, out)
    stamp_text = " · ".join(f"{html.escape(k)}: {html.escape(v)}" for k, v in stamp.items())
    page = (
        '<!doctype html><html lang="zh"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(heading)}</h1>"
        f'<p class="stamp">{stamp_text}</p>{body}</body></html>'
    )
    report = out / "report.html"
    report.write_text(page, encoding="utf-8")
    written.append(report)
    return written


def _ci_text(row: Mapping[str, object]) -> str:
    mean, lo, hi = row["mean"], row["lo"], row["hi"]
    assert isinstance(mean, float)
    if lo is None or hi is None:
        return f"{mean:,.1f}"
    assert isinstance(lo, float) and isinstance(hi, float)
    return f"{mean:,.1f} [{lo:,.1f}, {hi:,.1f}]"


def timeline_charts(timeline: Timeline) -> list[Chart]:
    """The timeline report's charts (means over seeds): daily push load by channel, daily
    applications per arm, the take-up funnel and the budget by month."""
    from simulations.timeline import CHANNELS, FUNNEL

    mean_daily = (
        timeline.daily.group_by("arm", "date", maintain_order=True)
        .agg(pl.exclude("seed", "month").mean())
        .sort("date")
    )
    charts = []
    push = mean_daily.filter(pl.col("arm") == "push")
    if push.height:
        load = {c: push[f"messages_{c}"].to_list() for c in CHANNELS if push[f"messages_{c}"].sum()}
        charts.append(Chart(
            "push_load", "line", "Daily push load by channel (messages) · 每日推送量（按渠道）",
            tuple(d.isoformat() for d in push["date"]),
            load or {"messages": push["messages"].to_list()},
        ))  # fmt: skip
    per_arm = {arm: mean_daily.filter(pl.col("arm") == arm) for arm in timeline.arms}
    any_arm = next(iter(per_arm.values()))
    charts.append(Chart(
        "applications", "line", "Daily applications · 每日申请（办理）",
        tuple(d.isoformat() for d in any_arm["date"]),
        {f"applied ({arm})": frame["applied"].to_list() for arm, frame in per_arm.items()},
    ))  # fmt: skip
    summary = timeline.summary
    funnel = {
        arm: [
            float(summary.filter((pl.col("arm") == arm) & (pl.col("metric") == m))["mean"]
                  .sum())
            for m in FUNNEL
        ]
        for arm in timeline.arms
    }  # fmt: skip
    charts.append(Chart(
        "funnel", "bar", "Take-up funnel (new eligibilities, mean over seeds) · 转化漏斗",
        ("eligible 符合条件", "notified 已通知", "read 已读", "applied 已申请", "granted 已享受"),
        funnel,
    ))  # fmt: skip
    monthly = timeline.monthly_ci.filter(pl.col("metric") == "budget").sort("month")
    months = monthly["month"].unique(maintain_order=True).to_list()
    charts.append(Chart(
        "budget_by_month", "bar", "Budget spent on new grants by month (CNY) · 每月新增支出（元）",
        tuple(str(m) for m in months),
        {arm: [float(monthly.filter((pl.col("arm") == arm) & (pl.col("month") == m))["mean"]
                     .sum()) for m in months] for arm in timeline.arms},
    ))  # fmt: skip
    return charts


def write_timeline_report(
    timeline: Timeline, out: Path, *, stamp: Mapping[str, str], png: bool = False
) -> list[Path]:
    """Write ``report.html`` and the CSV files of ``timeline`` into ``out``; returns the paths.

    CSVs: ``daily.csv`` (seed, arm, day), ``monthly.csv`` (their sums by month),
    ``monthly_ci.csv`` (mean and 95 % interval over seeds), ``summary.csv`` (over the horizon,
    with the push's effect) and ``totals.csv`` (per seed and arm).  With ``png``, every chart
    is also a PNG file (``push_load.png``, ``applications.png``, ``funnel.png``,
    ``budget_by_month.png``).  ``report.html`` is the last path.
    """
    from simulations.timeline import FUNNEL

    charts = timeline_charts(timeline)
    summary = timeline.summary
    push = timeline.daily.filter(pl.col("arm") == "push")
    rows = []
    for metric in ("spells", *FUNNEL[1:], "complaints", "budget", "messages", "new_eligible",
                   "lost"):  # fmt: skip
        cells = []
        for arm in (*timeline.arms, "effect"):
            row = summary.filter((pl.col("arm") == arm) & (pl.col("metric") == metric))
            cells.append(_ci_text(row.row(0, named=True)) if row.height else "—")
        rows.append({"metric": metric, **dict(zip((*timeline.arms, "effect"), cells, strict=True))})
    table = pl.DataFrame(rows)
    peaks = []
    if push.height:
        per_seed = (
            timeline.daily.filter(pl.col("arm") == "push")
            .group_by("seed")
            .agg(
                pl.col("messages").max().alias("peak_messages_per_day"),
                pl.col("date").get(pl.col("messages").arg_max()).alias("peak_day"),
                pl.col("messages").quantile(0.95).alias("p95_messages_per_day"),
                pl.col("messages").mean().round(1).alias("mean_messages_per_day"),
            )
            .sort("seed")
        )
        peaks.append(f"<h2>Push load · 推送负载</h2>{_table(per_seed)}")
    pop = " · ".join(f"{k}: {a:,} → {b:,}" for k, (a, b) in timeline.population.items())
    monthly_table = (
        timeline.monthly_ci.filter(pl.col("metric").is_in(["new_eligible", "messages", "applied",
                                                           "granted", "complaints", "budget"]))
        .with_columns(pl.col("mean", "lo", "hi").round(1))
        .sort("arm", "metric", "month")
    )  # fmt: skip
    body = (
        f"<p>{timeline.start} → {timeline.end}, {len(timeline.seeds)} seed(s); {pop}. "
        "Figures are means over seeds with 95 % intervals in brackets; "
        "<b>effect</b> = with push − without, per seed (the take-up the push causes). "
        "Budget counts payments of grants made during the timeline only.</p>"
        f"<h2>Over the horizon · 汇总</h2>{_table(table)}"
        f"<h2>Charts · 图表</h2>{''.join(c.svg() for c in charts)}"
        f"{''.join(peaks)}"
        f"<h2>By month · 按月</h2>{_table(monthly_table)}"
    )
    tables = {
        "daily": timeline.daily, "monthly": timeline.monthly, "monthly_ci": timeline.monthly_ci,
        "summary": timeline.summary, "totals": timeline.totals,
    }  # fmt: skip
    return _write_report(
        out, tables, charts, png=png, title="政策推演 Timeline",
        heading="政策推演 · The population over time: eligibility, pushes, take-up",
        stamp=stamp, body=body,
    )  # fmt: skip
