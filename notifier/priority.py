"""The planner's priority: the ranking's order of each person's offers, grants first.

When a person has more offers than one message carries, the planner keeps the most important
(essential notices first, then by priority).  :func:`priority_of` is pure: ranked offers
(``matcher.ranking.rank_offers``) in, (subject, policy) -> priority out, higher told first:
minus the rank, so 免申即享 grants (ranked first, never scored on take-up) come before every
offer, and the offers follow in the model's order (by what telling adds) when personalised,
the rules' otherwise (``ZHIDA_PERSONALISATION=off``).  :func:`run_priority` is its edge: it
reads the run's pairs, the population's profiles and the latest model that may order pushes —
a model trained with ``--audit-features`` never does.

>>> import polars as pl
>>> ranked = pl.DataFrame({"subject_id": ["a", "a", "a"], "policy_id": ["x", "y", "g"],
...                        "score": [0.4, 0.1, None], "rank": [3, 2, 1]},
...                       schema_overrides={"score": pl.Float64})
>>> priority_of(ranked)
{('a', 'x'): -3.0, ('a', 'y'): -2.0, ('a', 'g'): -1.0}
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from core.errors import NotFoundError
from rules.policy import Policy

if TYPE_CHECKING:
    from core.settings import Settings

__all__ = ["Ranking", "priority_of", "run_priority"]


@dataclass(frozen=True)
class Ranking:
    priority: Mapping[tuple[str, str], float] = field(default_factory=dict)
    how: str = ""  # what ordered the offers: "model v3", "rules only (...)"


def priority_of(ranked: pl.DataFrame) -> dict[tuple[str, str], float]:
    """(subject, policy) -> priority: minus the rank (grants are ranked first)."""
    value = -pl.col("rank").cast(pl.Float64)
    rows = ranked.select("subject_id", "policy_id", value.alias("p")).iter_rows()
    return {(s, p): float(v) for s, p, v in rows}


def run_priority(
    settings: Settings,
    pairs_file: Path,
    as_of: date,
    policies: Mapping[str, Policy],
    *,
    subjects: Collection[str],
    population: Path | None,
) -> Ranking:
    """Rank the offers of ``subjects`` in a run's pairs: by the latest model that may order
    pushes when personalisation is on and there are profiles and such a model, else by the
    rules alone (saying why).  A model trained with ``--audit-features`` is refused: skipped
    for an older one, or the rules alone.  A subject who switched personalised ranking off
    (:class:`profiles.personalisation.PersonalisationStore`) is ordered by the rules alone
    whatever the deployment's setting."""
    from matcher.ranking.order import rank_offers

    pairs = (
        pl.scan_parquet(pairs_file)
        .filter(
            pl.col("subject_id").is_in(list(subjects)),
            pl.col("policy_id").is_in(list(policies)),
        )
        .collect()
    )
    if "subject_type" not in pairs.columns:
        pairs = pairs.with_columns(pl.lit("resident").alias("subject_type"))
    if "benefit" not in pairs.columns:
        pairs = pairs.with_columns(pl.lit(None, dtype=pl.Float64).alias("benefit"))
    pairs = pairs.with_columns(pl.col("status").cast(pl.String))
    listed = list(policies.values())
    why_not = _why_not_personalised(settings, population)
    declined: set[str] = set()
    if why_not is None:
        declined = _declined(settings, subjects)
        if declined and declined >= set(subjects):
            why_not = "every subject here switched personalised ranking off"
    if why_not is None:
        from matcher.ranking.inputs import read_frame, read_profiles
        from matcher.ranking.registry import ModelRegistry
        from profiles.schema import load_schema

        assert population is not None
        registry = ModelRegistry(settings.data_dir / "models")
        try:
            model, info = registry.load_for_ordering()
        except NotFoundError:
            why_not = (
                "every trained model is for audits only: it reads protected or sensitive "
                "fields (--audit-features, or trained before they were left out) and never "
                "orders pushes; train one with `zhida rank train`"
                if registry.list()
                else "no trained model yet (`zhida rank train`)"
            )
        else:
            schema = load_schema()
            log = population / "outcomes.parquet"
            history = (
                read_frame(log, "outcome log", ("round", "pushed", "applied"), "")
                if log.is_file()
                else None
            )
            own = pl.col("subject_id").is_in(list(declined))
            ranked = rank_offers(
                pairs.filter(~own), policies=listed, personalised=True, model=model,
                profiles=read_profiles(population, schema, as_of=as_of), schema=schema,
                history=history, reasons=0, as_of=as_of,
            )  # fmt: skip
            priority = priority_of(ranked)
            how = f"model {info.version}"
            if declined:  # their own choice: these subjects' offers by the rules alone
                rules = rank_offers(pairs.filter(own), policies=listed, personalised=False)
                priority.update(priority_of(rules))
                how += f"; rules only for {len(declined)} who switched personalisation off"
            return Ranking(priority, how)
    ranked = rank_offers(pairs, policies=listed, personalised=False)
    return Ranking(priority_of(ranked), f"rules only ({why_not})")


def _declined(settings: Settings, subjects: Collection[str]) -> set[str]:
    """Of ``subjects``, those who switched personalised ranking off themselves."""
    from core.db import get_engine
    from profiles.personalisation import PersonalisationStore

    return PersonalisationStore(get_engine(settings.database_url)).opted_out(subjects)


def _why_not_personalised(settings: Settings, population: Path | None) -> str | None:
    if not settings.personalised:
        return "ZHIDA_PERSONALISATION=off"
    if population is None:
        return "the model needs the population's profiles: pass --population"
    return None
