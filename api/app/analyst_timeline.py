"""The analyst page's timeline runs: parameters, a sample of the population, the work, charts.

The console starts a timeline (:func:`simulations.timeline.simulate_timeline`) through the
same :class:`~api.app.simulations.SimulationRunner` as ``POST /api/v1/simulations``: a row
queued → running → done | failed, run on the server's background thread, its ``monthly`` and
``summary`` tables where the API serves them.  Beside them the console keeps ``daily.csv``
(each day's figures, mean over seeds, per arm) for the push-load chart.

A console run moves a random sample of the served population forward (2,000 residents by
default, the same share of firms, their service events): seconds, not the minutes of a whole
city.  The sample is drawn with a fixed seed (the same residents every run) and deleted when
the run ends.  Every figure is a whole-population total per day or month (no breakdown by
group), a mean over simulated futures, so no cell describes a small group of people.

Progress (days simulated of seeds × days) lives in this process's memory, which is where the
runner runs the work; the status endpoint reads it.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import polars as pl

from core.errors import ValidationError

__all__ = [
    "DEFAULTS",
    "TABLES",
    "Progress",
    "TimelineParams",
    "check_residents",
    "metric_name",
    "progress_of",
    "sample_population",
    "take_up_rows",
    "timeline_charts",
    "timeline_work",
    "track",
]

TABLES: Final = {
    "daily": "each day's figures per arm, mean over seeds (the push load)",
    "monthly": "per arm and month: each metric's mean over seeds with a 95 % interval",
    "summary": "per arm and the push's effect: totals over the horizon with a 95 % interval",
}
_LIMITS: Final = {"months": (1, 24), "residents": (100, 100_000), "seeds": (1, 10)}
DEFAULTS: Final = {"months": 3, "residents": 2_000, "seeds": 2, "push": True}
_SAMPLE_SEED = 0


@dataclass(frozen=True)
class TimelineParams:
    """What an analyst asked for: months ahead, residents sampled, seeds, with push or not."""

    months: int
    residents: int
    seeds: int
    push: bool

    @classmethod
    def parse(cls, form: Mapping[str, Any]) -> TimelineParams:
        """Read the form; a bad value is a :class:`ValidationError` saying what is expected.

        >>> TimelineParams.parse({"months": "2", "residents": "2,000", "seeds": "1"})
        TimelineParams(months=2, residents=2000, seeds=1, push=False)
        >>> TimelineParams.parse({"months": "30", "residents": "2000", "seeds": "1"})
        Traceback (most recent call last):
        ...
        core.errors.ValidationError: months must be a whole number from 1 to 24, got '30'
        """
        values: dict[str, int] = {}
        for name, (low, high) in _LIMITS.items():
            raw = str(form.get(name) or DEFAULTS[name]).strip().replace(",", "")
            if not raw.isdigit() or not low <= int(raw) <= high:
                raise ValidationError(
                    f"{name} must be a whole number from {low:,} to {high:,}, got {raw!r}"
                )
            values[name] = int(raw)
        return cls(push=str(form.get("push") or "") in ("on", "1", "true"), **values)

    def as_dict(self) -> dict[str, Any]:
        return {"months": self.months, "residents": self.residents, "seeds": self.seeds,
                "push": self.push}  # fmt: skip


def check_residents(population: Path, residents: int) -> int:
    """The residents in ``population`` (parquet metadata); fewer than asked is an error."""
    from matcher.population import POPULATION_FILES

    people = population / POPULATION_FILES["resident"]
    if not people.is_file():
        raise ValidationError(f"the population at {population} has no residents.parquet")
    total = int(pl.scan_parquet(people).select(pl.len()).collect().item())
    if residents > total:
        raise ValidationError(f"the population has {total:,} residents; ask for {total:,} or fewer")
    return total


def sample_population(source: Path, out: Path, residents: int, *, seed: int = _SAMPLE_SEED) -> Path:
    """``residents`` residents of ``source`` drawn at random, the same share of its firms, and
    their service events, written into ``out``; ``source`` itself when it has no more.

    Only the id columns are read whole; the sample's rows are filtered in the scan.
    """
    from matcher.population import POPULATION_FILES

    keys = {"resident": "person_id", "enterprise": "enterprise_id"}
    total = check_residents(source, residents)
    if residents == total:
        return source
    out.mkdir(parents=True, exist_ok=True)
    chosen: list[str] = []
    for entity, file in POPULATION_FILES.items():
        path = source / file
        if not path.is_file():
            continue
        ids = pl.scan_parquet(path).select(keys[entity]).collect().to_series()
        n = residents if entity == "resident" else round(ids.len() * residents / total)
        picked = ids.sample(min(n, ids.len()), seed=seed)
        chosen += picked.cast(pl.String).to_list()
        pl.scan_parquet(path).filter(pl.col(keys[entity]).is_in(picked.implode())).sink_parquet(
            out / file
        )
    events = source / "events.parquet"
    if events.is_file():
        wanted = pl.Series(chosen, dtype=pl.String).implode()
        pl.scan_parquet(events).filter(pl.col("subject_id").is_in(wanted)).sink_parquet(
            out / "events.parquet"
        )
    return out


@dataclass
class Progress:
    """Days simulated so far of the whole run (seeds × days); written by the run's thread."""

    done: int
    total: int


_tracked: dict[int, Progress] = {}
_tracked_lock = threading.Lock()


def track(sim_id: int, progress: Progress) -> None:
    """Make ``progress`` the one :func:`progress_of` reports for ``sim_id`` (the last 200 kept)."""
    with _tracked_lock:
        _tracked[sim_id] = progress
        for old in sorted(_tracked)[:-200]:
            del _tracked[old]


def progress_of(sim_id: int) -> Progress | None:
    with _tracked_lock:
        return _tracked.get(sim_id)


def timeline_work(
    population: Path, catalog: Any, as_of: date, params: TimelineParams
) -> tuple[Callable[[Path], dict[str, Any]], Progress]:
    """The runner's work (``directory -> summary``) and the progress it advances."""
    from simulations.timeline import add_months

    days = (add_months(as_of, params.months) - as_of).days
    progress = Progress(0, days * params.seeds)

    def advance(n: int) -> None:
        progress.done += n

    def work(directory: Path) -> dict[str, Any]:
        from profiles.schema import load_schema
        from simulations.timeline import METRICS, simulate_timeline, summary_lines

        sample = directory / "population"
        try:
            source = sample_population(population, sample, params.residents)
            timeline = simulate_timeline(
                source, catalog, load_schema(), as_of=as_of, months=params.months,
                seeds=range(1, params.seeds + 1), push=params.push, progress=advance,
            )  # fmt: skip
        finally:
            shutil.rmtree(sample, ignore_errors=True)  # person-level rows: never left behind
        daily = (
            timeline.daily.group_by("arm", "date", maintain_order=True)
            .agg(pl.col(m).mean() for m in METRICS)
            .sort("arm", "date")
        )
        for name, frame in (("daily", daily), ("monthly", timeline.monthly_ci),
                            ("summary", timeline.summary)):  # fmt: skip
            frame.write_csv(directory / f"{name}.csv.tmp")
            (directory / f"{name}.csv.tmp").replace(directory / f"{name}.csv")
        return {
            "start": timeline.start.isoformat(), "end": timeline.end.isoformat(),
            "seeds": list(timeline.seeds), "arms": list(timeline.arms),
            "population": {k: list(v) for k, v in timeline.population.items()},
            "lines": summary_lines(timeline),
        }  # fmt: skip

    return work, progress


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
    from simulations.charts import bar_chart, line_chart
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
    """The horizon's figures per arm and the push's effect: "mean [lo, hi]" (no interval with
    one seed), one row per metric.

    >>> summary = pl.DataFrame({"arm": ["push", "no_push", "effect"],
    ...     "metric": ["applied"] * 3, "mean": [12.0, 5.0, 7.0], "lo": [8.0, 2.0, None],
    ...     "hi": [16.0, 8.0, None]})
    >>> take_up_rows(summary)[3]
    {'metric': 'applied', 'push': '12 [8, 16]', 'no_push': '5 [2, 8]', 'effect': '7'}
    """
    out = []
    for metric in ("spells", "notified", "read", "applied", "granted", "complaints", "budget"):
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
