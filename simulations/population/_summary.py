"""A readable summary of a population directory (counts, shares, quantiles), as values.

Where the directory has ``households.parquet``, the summary also gives household sizes, their
compositions (read from the members' relations to the head) and how people aged 60+ live.
"""

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
    households: int | None = None  # None: the population has no households file
    household_sizes: pl.DataFrame | None = None
    compositions: pl.DataFrame | None = None
    elderly_living: pl.DataFrame | None = None
    employments: int | None = None


def _scan(directory: Path, name: str) -> pl.LazyFrame:
    path = directory / FILES[name]
    if not path.is_file():
        raise InputFileError(
            f"{path} does not exist; a population directory holds "
            f"{', '.join(FILES[e] for e in ('resident', 'enterprise', 'event'))}, with links also "
            f"{FILES['household']} and {FILES['employment']} "
            "(make one with `zhida population generate`)"
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


def composition() -> pl.Expr:
    """A household's composition from its members' counts by relation (columns ``size``,
    ``spouse``, ``child``, ``parent``, ``grandchild``).

    >>> frame = pl.DataFrame({"size": [1, 2, 3, 3, 4], "spouse": [0, 1, 1, 0, 1],
    ...                       "child": [0, 0, 1, 2, 1], "parent": [0, 0, 0, 0, 1],
    ...                       "grandchild": [0, 0, 0, 0, 0]})
    >>> frame.select(composition()).to_series().to_list()
    ['one person', 'couple', 'couple with children', 'lone parent with children', \
'three generations']
    """
    spouse, child, parent = pl.col("spouse") > 0, pl.col("child") > 0, pl.col("parent") > 0
    return (
        pl.when(pl.col("size") == 1)
        .then(pl.lit("one person"))
        .when((pl.col("grandchild") > 0) & ~child)
        .then(pl.lit("grandparents and grandchildren"))
        .when(parent & child)
        .then(pl.lit("three generations"))
        .when(parent)
        .then(pl.lit("with the head's parents"))
        .when(child & spouse & (pl.col("size") == 2 + pl.col("child")))
        .then(pl.lit("couple with children"))
        .when(child & ~spouse)
        .then(pl.lit("lone parent with children"))
        .when(spouse & (pl.col("size") == 2))
        .then(pl.lit("couple"))
        .otherwise(pl.lit("other"))
        .alias("composition")
    )


def _households(
    residents: pl.LazyFrame, age: pl.Expr
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Household sizes, compositions and how people aged 60+ live."""
    per_household = (
        residents.filter(pl.col("household_id").is_not_null())
        .group_by("household_id")
        .agg(
            pl.len().alias("size"),
            *(
                (pl.col("relation_to_head") == r).sum().alias(r)
                for r in ("spouse", "child", "parent", "grandchild")
            ),
        )
        .with_columns(composition())
    )
    sizes = (
        per_household.group_by(
            pl.when(pl.col("size") >= 6)
            .then(pl.lit("6+"))
            .otherwise(pl.col("size").cast(pl.String))
            .alias("size")
        )
        .agg(pl.len().alias("households"), pl.col("size").sum().alias("people"))
        .with_columns((pl.col("households") / pl.col("households").sum()).alias("share"))
        .sort("size")
        .collect()
    )
    compositions = (
        per_household.group_by("composition")
        .agg(pl.len().alias("households"), pl.col("size").sum().alias("people"))
        .with_columns((pl.col("households") / pl.col("households").sum()).alias("share"))
        .sort("households", descending=True)
        .collect()
    )
    living = (
        residents.filter(age >= 60)
        .join(
            per_household.select("household_id", "size", "child", "composition"), on="household_id"
        )
        .with_columns(
            pl.when(pl.col("size") == 1)
            .then(pl.lit("alone"))
            .when(pl.col("composition") == "couple")
            .then(pl.lit("with their spouse only"))
            .when(pl.col("relation_to_head").is_in(["head", "spouse"]) & (pl.col("child") > 0))
            .then(pl.lit("with their children"))
            .when(pl.col("relation_to_head") == "parent")
            .then(pl.lit("with their children"))
            .otherwise(pl.lit("with others"))
            .alias("lives")
        )
    )
    return sizes, compositions, _shares(living, "lives", "aged 60+ live")


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
    linked = (directory / FILES["household"]).is_file()
    households = _scan(directory, "household") if linked else None
    sizes = compositions = living = None
    if households is not None:
        sizes, compositions, living = _households(residents, age)
    jobs = directory / FILES["employment"]
    employments = (
        pl.scan_parquet(jobs).select(pl.len()).collect().item() if jobs.is_file() else None
    )
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
        households=None if households is None else households.select(pl.len()).collect().item(),
        household_sizes=sizes,
        compositions=compositions,
        elderly_living=living,
        employments=employments,
    )
