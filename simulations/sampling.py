"""A random sample of a population: residents, the same share of firms, their service events.

A console timeline run moves a sample of the served population forward (seconds, not the
minutes of a whole city).  The sample is drawn with a fixed seed, so the same residents are
drawn every run, and only the id columns are read whole: the sample's rows are filtered in the
scan.  Calibrated weights are scaled up by the sampling fraction's inverse, so the sample still
stands for Beijing (:mod:`simulations.scaling`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import polars as pl

from core.errors import ValidationError
from matcher.population import POPULATION_FILES

__all__ = ["SAMPLE_SEED", "check_residents", "sample_population"]

SAMPLE_SEED: Final = 0
_KEYS: Final = {"resident": "person_id", "enterprise": "enterprise_id"}


def check_residents(population: Path, residents: int) -> int:
    """The residents in ``population`` (parquet metadata); fewer than asked is an error."""
    people = population / POPULATION_FILES["resident"]
    if not people.is_file():
        raise ValidationError(f"the population at {population} has no residents.parquet")
    total = int(pl.scan_parquet(people).select(pl.len()).collect().item())
    if residents > total:
        raise ValidationError(f"the population has {total:,} residents; ask for {total:,} or fewer")
    return total


def sample_population(source: Path, out: Path, residents: int, *, seed: int = SAMPLE_SEED) -> Path:
    """``residents`` residents of ``source`` drawn at random, the same share of its firms, and
    their service events, written into ``out``; ``source`` itself when it has no more."""
    total = check_residents(source, residents)
    if residents == total:
        return source
    out.mkdir(parents=True, exist_ok=True)
    chosen: list[str] = []
    for entity, file in POPULATION_FILES.items():
        path = source / file
        if not path.is_file():
            continue
        ids = pl.scan_parquet(path).select(_KEYS[entity]).collect().to_series()
        n = residents if entity == "resident" else round(ids.len() * residents / total)
        picked = ids.sample(min(n, ids.len()), seed=seed)
        chosen += picked.cast(pl.String).to_list()
        rows = pl.scan_parquet(path).filter(pl.col(_KEYS[entity]).is_in(picked.implode()))
        if "weight" in rows.collect_schema().names() and picked.len():
            # Each drawn subject stands for the undrawn ones too: the weights still add up
            # to Beijing's totals, so the sample's Beijing-scale figures stay Beijing's.
            rows = rows.with_columns(pl.col("weight") * (ids.len() / picked.len()))
        rows.sink_parquet(out / file)
    events = source / "events.parquet"
    if events.is_file():
        wanted = pl.Series(chosen, dtype=pl.String).implode()
        pl.scan_parquet(events).filter(pl.col("subject_id").is_in(wanted)).sink_parquet(
            out / "events.parquet"
        )
    return out
