"""A readable summary of a population directory (counts, shares, quantiles), as values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from core.errors import InputFileError
from simulations.population._generate import FILES

__all__ = ["PopulationSummary", "summarise"]


@dataclass(frozen=True)
class PopulationSummary:
    residents: int
    enterprises: int
    events: int
    by_district: pl.DataFrame
    age_bands: pl.DataFrame
    employment: pl.DataFrame
    hukou_beijing_share: float
    income_quantiles: dict[str, float]
    assistance: pl.DataFrame
    size_classes: pl.DataFrame
    events_by_item: pl.DataFrame
    unknown_shares: pl.DataFrame


def _scan(directory: Path, name: str) -> pl.LazyFrame:
    path = directory / FILES[name]
    if not path.is_file():
        raise InputFileError(
            f"{path} does not exist; a population directory holds "
            f"{', '.join(FILES.values())} (make one with `zhida population generate`)"
        )
    return pl.scan_parquet(path)


def _shares(frame: pl.LazyFrame, column: str | pl.Expr, name: str) -> pl.DataFrame:
    expr = pl.col(column) if isinstance(column, str) else column
    return (
        frame.group_by(expr.alias(name))
        .agg(pl.len().alias("count"))
        .with_columns((pl.col("count") / pl.col("count").sum()).alias("share"))
        .sort("count", descending=True)
        .collect()
    )


def summarise(directory: Path) -> PopulationSummary:
    residents = _scan(directory, "resident")
    enterprises = _scan(directory, "enterprise")
    events = _scan(directory, "event")
    first = residents.select(pl.col("birth_date").max()).collect().item()
    as_of_year = first.year if first else 2026
    age = as_of_year - pl.col("birth_date").dt.year()
    band = (
        pl.when(age < 15)
        .then(pl.lit("0-14"))
        .when(age < 60)
        .then(pl.lit("15-59"))
        .when(age < 80)
        .then(pl.lit("60-79"))
        .otherwise(pl.lit("80+"))
    )
    quantiles = (
        residents.select(
            pl.col("monthly_income").quantile(q).alias(f"p{int(q * 100)}") for q in (0.1, 0.5, 0.9)
        )
        .collect()
        .row(0, named=True)
    )
    unknown = residents.select(pl.all().exclude("tags").null_count() / pl.len()).collect()
    unknown_long = unknown.transpose(include_header=True, header_name="field").rename(
        {"column_0": "unknown_share"}
    )
    return PopulationSummary(
        residents=residents.select(pl.len()).collect().item(),
        enterprises=enterprises.select(pl.len()).collect().item(),
        events=events.select(pl.len()).collect().item(),
        by_district=_shares(residents, "residence_district", "district"),
        age_bands=_shares(residents, band, "age_band").sort("age_band"),
        employment=_shares(residents, "employment_status", "employment"),
        hukou_beijing_share=residents.select((pl.col("hukou_city") == "北京市").mean())
        .collect()
        .item()
        or 0.0,
        income_quantiles={k: float(v or 0.0) for k, v in quantiles.items()},
        assistance=_shares(residents, "subsistence_status", "assistance"),
        size_classes=_shares(enterprises, "size_class", "size_class"),
        events_by_item=_shares(events, "item_code", "item_code"),
        unknown_shares=unknown_long.filter(pl.col("unknown_share") > 0),
    )
