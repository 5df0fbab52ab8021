"""Read what ranking needs from files: profiles (with derived fields and tags), pairs, logs.

The thin I/O edge of ranking; everything it returns is an eager polars frame.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from core.errors import InputFileError, ValidationError
from matcher.population import attach_tags, scan_population
from profiles.derive import with_derived
from profiles.schema import Schema

__all__ = ["PEOPLE", "read_frame", "read_profiles", "with_profiles"]

# Whose offers ranking learns from and orders by a model: subjects with a profile of their own.
# A household's offers (audience: household, e.g. 低保) are told to its head and ordered by the
# rules; the simulated behaviour and the model have no household profile to read.
PEOPLE = ("resident", "enterprise")


def with_profiles(pairs: pl.DataFrame) -> pl.DataFrame:
    """The pairs of residents and enterprises (see :data:`PEOPLE`).

    >>> pairs = pl.DataFrame({"subject_id": ["P1", "H1"],
    ...                       "subject_type": ["resident", "household"]})
    >>> with_profiles(pairs)["subject_id"].to_list()
    ['P1']
    """
    return pairs.filter(pl.col("subject_type").cast(pl.String).is_in(PEOPLE))


def read_profiles(directory: Path, schema: Schema, *, as_of: date) -> dict[str, pl.DataFrame]:
    """Residents and enterprises of ``directory`` with ``age``/``age_years`` and computed tags."""
    frames = attach_tags(scan_population(directory, schema), directory, schema, as_of=as_of)
    return {
        name: with_derived(frame, schema.entity(name), as_of=as_of).collect()
        for name, frame in frames.items()
        if name in PEOPLE  # not the households and employments beside them
    }


def read_frame(path: Path, what: str, columns: tuple[str, ...], hint: str) -> pl.DataFrame:
    """A Parquet file that must hold ``columns``; ``hint`` says how to make one."""
    if not path.is_file():
        raise InputFileError(f"{what} file {path} does not exist; {hint}")
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputFileError(
            f"{what} file {path} is not readable Parquet ({str(exc).splitlines()[0]}); {hint}"
        ) from exc
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"{what} file {path} lacks the column(s) {', '.join(missing)}; {hint}"
        )
    return frame
