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

__all__ = ["read_frame", "read_profiles"]


def read_profiles(directory: Path, schema: Schema, *, as_of: date) -> dict[str, pl.DataFrame]:
    """Residents and enterprises of ``directory`` with ``age``/``age_years`` and computed tags."""
    frames = attach_tags(scan_population(directory, schema), directory, schema, as_of=as_of)
    return {
        name: with_derived(frame, schema.entity(name), as_of=as_of).collect()
        for name, frame in frames.items()
        if name in ("resident", "enterprise")  # not the households and employments beside them
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
