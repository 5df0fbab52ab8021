"""How a finished timeline run reads on the analyst page: charts, take-up rows, the peak day.

All figures are the run's release: whole-population means over simulated futures with
differential-privacy noise, each subject's part bounded (:mod:`simulations.timeline_release`),
read from the kept CSVs, so every view shows the same numbers.  An interval is the noise's
95 % interval.  They are written as the report's charts write them
(:func:`simulations.charts.figure`), so the page and its charts agree.
"""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from simulations.charts import bar_chart, figure, line_chart

__all__ = ["metric_name", "peak_of", "take_up_rows", "timeline_charts"]


def _words(lang: str) -> dict[str, str]:
    zh = lang == "zh"
    return {
        "load": "每日推送量（各次模拟的平均）" if zh else "Daily push load (mean over seeds)",
        "funnel": "转化漏斗：新符合 → 已通知 → 已读 → 已申请 → 已享受" if zh
        else "Take-up funnel: eligible → notified → read → applied → granted",
        "take_up": "有无主动推送的办理量" if zh else "Take-up with and without the push",
        "push": "有推送" if zh else "with push",
        "no_push": "无推送" if zh else "without push",
        "messages": "消息" if zh else "messages",
    }  # fmt: skip


_METRICS_ZH: Final = {
    "spells": "新符合条件", "notified": "已通知", "read": "已读", "applied": "已申请",
    "granted": "已享受", "complaints": "投诉", "budget": "新增支出（元）",
}  # fmt: skip
_METRICS_EN: Final = {"spells": "newly eligible", "budget": "budget spent (CNY)"}


def metric_name(metric: str, lang: str) -> str:
    """A metric's name in the page's language.

    >>> metric_name("spells", "zh"), metric_name("spells", "en"), metric_name("read", "en")
    ('新符合条件', 'newly eligible', 'read')
    """
    names = _METRICS_ZH if lang == "zh" else _METRICS_EN
    return names.get(metric, metric)


def timeline_charts(daily: pl.DataFrame, summary: pl.DataFrame, lang: str) -> list[str]:
    """SVG charts of a finished run: the daily push load (its peak marked), the funnel per
    arm, and take-up (applied, granted) with and without the push."""
    from simulations.timeline import CHANNELS, FUNNEL

    w = _words(lang)
    arms = [a for a in ("push", "no_push") if a in summary["arm"].to_list()]
    charts = []
    push = daily.filter(pl.col("arm") == "push").sort("date")
    if push.height:
        load = {c: push[f"messages_{c}"].to_list() for c in CHANNELS if push[f"messages_{c}"].sum()}
        total = {w["messages"]: push["messages"].to_list()}
        charts.append(line_chart(w["load"], [str(d) for d in push["date"]], load or total))

    def mean(arm: str, metric: str) -> float:
        row = summary.filter((pl.col("arm") == arm) & (pl.col("metric") == metric))
        return float(row["mean"][0]) if row.height else 0.0

    labels = [metric_name(m, lang) for m in FUNNEL]
    charts.append(bar_chart(
        w["funnel"], labels, {w[arm]: [mean(arm, m) for m in FUNNEL] for arm in arms},
    ))  # fmt: skip
    charts.append(bar_chart(
        w["take_up"], [metric_name(m, lang) for m in ("applied", "granted")],
        {w[arm]: [mean(arm, m) for m in ("applied", "granted")] for arm in arms},
    ))  # fmt: skip
    return charts


def take_up_rows(summary: pl.DataFrame) -> list[dict[str, str]]:
    """The horizon's figures per arm and the push's effect: "mean [lo, hi]", the interval the
    noise's (none when the table has none), one row per metric; benefits paid only when the
    table releases them.

    >>> summary = pl.DataFrame({"arm": ["push", "no_push", "effect"],
    ...     "metric": ["applied"] * 3, "mean": [12.0, 5.0, 7.0], "lo": [8.0, 2.0, None],
    ...     "hi": [16.0, 8.0, None]})
    >>> take_up_rows(summary)[3]
    {'metric': 'applied', 'push': '12 [8, 16]', 'no_push': '5 [2, 8]', 'effect': '7'}
    """
    out = []
    released = set(summary["metric"].to_list())
    for metric in ("spells", "notified", "read", "applied", "granted", "complaints", "budget"):
        if metric == "budget" and metric not in released:
            continue
        row: dict[str, str] = {"metric": metric}
        for arm in ("push", "no_push", "effect"):
            found = summary.filter((pl.col("arm") == arm) & (pl.col("metric") == metric))
            if not found.height:
                row[arm] = "—"
                continue
            m, lo, hi = found.select("mean", "lo", "hi").row(0)
            row[arm] = (
                f"{m:,.0f}" if lo is None or hi is None else f"{m:,.0f} [{lo:,.0f}, {hi:,.0f}]"
            )
        out.append(row)
    return out


def peak_of(daily: pl.DataFrame) -> dict[str, Any] | None:
    """The peak day's messages and the mean, written as the push-load chart writes its peak.

    >>> daily = pl.DataFrame({"arm": ["push"] * 3, "date": ["d1", "d2", "d3"],
    ...                       "messages": [3.0, 7.5, 1.5]})
    >>> peak_of(daily)
    {'messages': '7.5', 'date': 'd2', 'mean': '4'}
    """
    push = daily.filter(pl.col("arm") == "push")
    if not push.height:
        return None
    top = push.sort("messages", descending=True, maintain_order=True).row(0, named=True)
    mean = float(push["messages"].mean() or 0.0)  # type: ignore[arg-type]
    return {"messages": figure(top["messages"]), "date": str(top["date"]), "mean": figure(mean)}
