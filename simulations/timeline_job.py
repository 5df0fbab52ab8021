"""Timeline runs as simulation jobs: the parameters an analyst may ask for, the work, progress.

Through ``POST /api/v1/simulations`` a timeline moves the whole served population forward
(:func:`timeline_work`).  The analyst console moves a random sample of it
(:func:`sampled_timeline_work`, 2,000 residents by default, the same share of firms, their
service events; :mod:`simulations.sampling`): seconds, not the minutes of a whole city.  The
sample is deleted when the run ends.  Beside the ``monthly`` and ``summary`` tables the console
keeps ``daily.csv`` (each day's figures, mean over seeds, per arm) for the push-load chart.
Every figure is a whole-population total per day or month (no breakdown by group), a mean over
simulated futures, released with differential-privacy noise and each subject's part bounded
(:mod:`simulations.timeline_release`): only the noisy release is written, so every later read
(API, console, CSV) shows the same figures.  Starting a run is charged
:func:`simulations.timeline_release.timeline_epsilon` once, by the caller.

Progress (days simulated of seeds × days) lives in this process's memory, which is where the
runner runs the work; the console's status endpoint reads it (:func:`progress_of`).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

from core.errors import ValidationError
from rules.loader import Catalog
from simulations.jobs import Work
from simulations.privacy import DEFAULT, PrivacyParameters, refuse_identifying
from simulations.sampling import sample_population
from simulations.timeline_release import Release, private_timeline, release_lines

__all__ = [
    "DEFAULTS",
    "SAMPLED_TABLES",
    "Progress",
    "TimelineParams",
    "progress_of",
    "sampled_timeline_work",
    "timeline_work",
    "track",
]

# The tables a console (sampled) run keeps, by name.
SAMPLED_TABLES: Final = {
    "daily": "each day's figures per arm, mean over seeds, with privacy noise (the push load)",
    "monthly": "per arm and month: each metric's noisy mean over seeds, the noise's 95 % interval",
    "summary": "per arm and the push's effect: noisy totals over the horizon, the noise's 95 % "
    "interval",
}
_LIMITS: Final = {"months": (1, 24), "residents": (100, 100_000), "seeds": (1, 10)}
DEFAULTS: Final = {"months": 3, "residents": 2_000, "seeds": 2, "push": True}


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


def _refuse(catalog: Catalog) -> None:
    """An aggregate-only answer: a rule reading an identifier is refused before anything runs."""
    from profiles.schema import load_schema

    refuse_identifying(catalog.policies, load_schema(), answer="a timeline simulation")


def _write(directory: Path, released: Release, tables: tuple[str, ...]) -> dict[str, Any]:
    """Write the released ``tables`` (never the raw figures) and return the run's summary."""
    frames = {"daily": released.daily, "monthly": released.monthly, "summary": released.summary}
    if released.beijing is not None:  # derived from the released summary: Beijing's scale
        frames["beijing"] = released.beijing.rename({"beijing": "mean"}).select(
            "arm", "metric", "sample", "mean", "lo", "hi"
        )
        tables = (*tables, "beijing")
    for name in tables:
        frames[name].write_csv(directory / f"{name}.csv.tmp")
        (directory / f"{name}.csv.tmp").replace(directory / f"{name}.csv")
    return {
        "start": released.start.isoformat(), "end": released.end.isoformat(),
        "seeds": list(released.seeds), "arms": list(released.arms),
        "epsilon": released.epsilon, "lines": release_lines(released),
    }  # fmt: skip


def timeline_work(
    population: Path, catalog: Catalog, as_of: date, months: int, seeds: int, push: bool,
    params: PrivacyParameters = DEFAULT,
) -> Work:  # fmt: skip
    """The work of a whole-population timeline run (seeds 0 … seeds-1): monthly and summary.

    Months ahead are 1 to 24 and seeds 1 to 10; others are refused before anything runs.

    >>> timeline_work(Path("."), Catalog((), {}, {}), date(2026, 6, 30), 25, 1, True)
    Traceback (most recent call last):
    ...
    core.errors.ValidationError: months must be from 1 to 24, got 25
    """
    for name, value, (low, high) in (("months", months, _LIMITS["months"]),
                                     ("seeds", seeds, _LIMITS["seeds"])):  # fmt: skip
        if not low <= value <= high:
            raise ValidationError(f"{name} must be from {low} to {high}, got {value}")
    _refuse(catalog)

    def work(directory: Path) -> dict[str, Any]:
        from profiles.schema import load_schema

        released = private_timeline(
            population, catalog, load_schema(), as_of=as_of, months=months,
            seeds=list(range(seeds)), push=push, params=params,
        )  # fmt: skip
        return _write(directory, released, ("monthly", "summary"))

    return work


def sampled_timeline_work(
    population: Path, catalog: Catalog, as_of: date, params: TimelineParams,
    privacy: PrivacyParameters = DEFAULT,
) -> tuple[Work, Progress]:  # fmt: skip
    """The work of a console run on a sample (seeds 1 … seeds) and the progress it advances.

    A rule reading an identifier is refused before anything runs, as for :func:`timeline_work`.
    """
    _refuse(catalog)
    from simulations.timeline import add_months

    days = (add_months(as_of, params.months) - as_of).days
    progress = Progress(0, days * params.seeds)

    def advance(n: int) -> None:
        progress.done += n

    def work(directory: Path) -> dict[str, Any]:
        from profiles.schema import load_schema

        sample = directory / "population"
        try:
            source = sample_population(population, sample, params.residents)
            released = private_timeline(
                source, catalog, load_schema(), as_of=as_of, months=params.months,
                seeds=range(1, params.seeds + 1), push=params.push, params=privacy,
                progress=advance,
            )  # fmt: skip
        finally:
            shutil.rmtree(sample, ignore_errors=True)  # person-level rows: never left behind
        return _write(directory, released, tuple(SAMPLED_TABLES))

    return work, progress
