"""What of a recorded match run's reach may be released: per policy and by group, noisy.

The reach route, the officer's policy list and the reach-by-group export show the latest run's
eligible and maybe counts.  Each is one *release* per run (:mod:`simulations.budget`): noised
once, kept, the same for everyone, charged to each user the first time they receive it.

A subject can be eligible for every policy of the run, and sits in one group of each dimension,
so one subject adds at most ``policies`` to a per-policy column and ``policies × dimensions`` to
a by-group column: every figure gets the noise of one count
(:attr:`~simulations.privacy.PrivacyParameters.count_scale`), and the release costs each
column's L1 sensitivity times ε (:func:`reach_epsilon`, :func:`by_group_epsilon`).  The groups
listed are every group of the population crossed with every policy of the run, so whether a
cell is listed says nothing; :mod:`simulations.disclosure` then withholds the noisy small ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from simulations.disclosure import k_anonymous, noised, suppress
from simulations.privacy import DEFAULT, PrivacyParameters

__all__ = [
    "by_group_epsilon",
    "dimensions_per_subject",
    "population_groups",
    "private_by_group",
    "private_per_policy",
    "reach_epsilon",
    "run_policies",
]

# Columns of a run's release: eligible and maybe.
_COLUMNS = ("eligible", "maybe")


def reach_epsilon(policies: int, params: PrivacyParameters = DEFAULT) -> float:
    """What the per-policy release of a run of ``policies`` policies costs.

    >>> reach_epsilon(35)
    3.5
    """
    return round(len(_COLUMNS) * policies * params.epsilon, 6)


def by_group_epsilon(policies: int, dimensions: int, params: PrivacyParameters = DEFAULT) -> float:
    """What the by-group release costs: ``dimensions`` groupings of ``policies`` policies.

    >>> by_group_epsilon(35, 5)
    17.5
    """
    return round(len(_COLUMNS) * policies * dimensions * params.epsilon, 6)


def run_policies(pairs_file: Path, recorded: Iterable[str]) -> list[str]:
    """The policies a run's releases cover: those recorded with the run and any in its pairs
    (the published catalog's ids, public)."""
    found = pl.scan_parquet(pairs_file).select(pl.col("policy_id").unique()).collect()
    return sorted(set(recorded) | set(found["policy_id"]))


def _noisy(frame: pl.DataFrame, params: PrivacyParameters) -> pl.DataFrame:
    return frame.with_columns(
        pl.Series(c, noised([int(v) for v in frame[c]], params.count_scale), pl.Int64)
        for c in _COLUMNS
    )


def private_per_policy(
    pairs_file: Path, policies: list[str], params: PrivacyParameters = DEFAULT
) -> list[dict[str, Any]]:
    """``policy_id, eligible, maybe`` per policy of the run, noisy and k-anonymous."""
    from simulations.run_reach import reach_per_policy

    true = reach_per_policy(pairs_file)
    every = pl.DataFrame({"policy_id": sorted(policies)}, schema={"policy_id": pl.String})
    frame = every.join(true, on="policy_id", how="left").fill_null(0)
    shown = _noisy(frame, params)
    return [
        {"policy_id": p, "eligible": suppress(e), "maybe": suppress(m)}
        for p, e, m in shown.select("policy_id", *_COLUMNS).rows()
    ]


def private_by_group(
    pairs_file: Path,
    population: Path,
    as_of: date,
    policies: list[str],
    params: PrivacyParameters = DEFAULT,
) -> pl.DataFrame:
    """``dimension, group, policy_id, eligible, maybe`` of the run: every group of the
    population for every policy, noisy, then k-anonymous (strings)."""
    from simulations.run_reach import reach_by_group

    true = reach_by_group(pairs_file, population, as_of)
    domain = population_groups(population, as_of).join(
        pl.DataFrame({"policy_id": sorted(policies)}, schema={"policy_id": pl.String}),
        how="cross",
    )
    frame = (
        domain.join(true, on=["dimension", "group", "policy_id"], how="left")
        .with_columns(pl.col(c).fill_null(0).cast(pl.Int64) for c in _COLUMNS)
        .sort("dimension", "group", "policy_id")
    )
    return k_anonymous(_noisy(frame, params))


def population_groups(population: Path, as_of: date) -> pl.DataFrame:
    """``dimension, group``: every group the population has, residents' and firms'."""
    from matcher.population import scan_population
    from profiles.derive import with_derived
    from profiles.schema import load_schema
    from simulations.reach import group_columns, with_missing_fields

    schema = load_schema()
    parts = []
    for name, frame in scan_population(population, schema).items():
        entity = schema.entity(name)
        people = with_derived(with_missing_fields(frame, entity), entity, as_of=as_of)
        for dimension, expr in group_columns(name).items():
            parts.append(
                people.select(
                    pl.lit(dimension).alias("dimension"), expr.cast(pl.String).alias("group")
                )
                .drop_nulls("group")
                .unique()
            )
    if not parts:
        return pl.DataFrame(schema={"dimension": pl.String, "group": pl.String})
    return pl.concat(pl.collect_all(parts)).unique()


def dimensions_per_subject() -> int:
    """The most groupings one subject is counted in (residents have the most)."""
    from simulations.reach import group_columns

    return max(len(group_columns("resident")), len(group_columns("enterprise")))
