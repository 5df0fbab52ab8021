"""A whole simulated world in memory: population, tags, matches, true behaviour and outcomes.

What tests, benchmarks and the demo need to train and judge ranking models without files:
:func:`simulate_world` generates a seeded population, computes its tags, matches it against the
catalog in force, and draws campaigns from the behaviour model.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from matcher.batch import match_frame
from matcher.ranking.inputs import read_profiles
from profiles.schema import Schema, load_schema
from rules.policy import Policy
from simulations.behaviour._propensity import simulate_outcomes, true_propensities

__all__ = ["World", "simulate_world"]


@dataclass(frozen=True, eq=False)
class World:
    """Everything a ranking experiment needs; ``truth`` is for oracle metrics only."""

    schema: Schema
    policies: tuple[Policy, ...]
    profiles: dict[str, pl.DataFrame]
    pairs: pl.DataFrame
    truth: pl.DataFrame
    log: pl.DataFrame
    as_of: date


def simulate_world(
    *,
    residents: int,
    enterprises: int,
    seed: int,
    as_of: date = date(2026, 6, 30),
    share: float = 0.5,
    rounds: int = 2,
    catalog: Sequence[Path] | None = None,
    directory: Path | None = None,
) -> World:
    """Generate, tag, match and simulate ``rounds`` campaigns pushing ``share`` of the offers.

    ``directory`` keeps the population files (default: a temporary directory, removed).
    """
    from matcher.population import attach_tags, scan_population
    from rules.loader import load_catalog
    from simulations.population import GenerationSpec, generate_population

    schema = load_schema()
    builtin = Path(__file__).resolve().parents[2] / "rules" / "catalog"
    paths = list(catalog) if catalog else [builtin]
    policies = load_catalog(paths, schema).in_force(as_of)
    with tempfile.TemporaryDirectory(prefix="zhida-world-") as scratch:
        where = directory or Path(scratch)
        generate_population(GenerationSpec(residents, enterprises, seed, as_of), where)
        frames = attach_tags(scan_population(where, schema), where, schema, as_of=as_of)
        pairs = match_frame(frames, policies, schema, as_of=as_of)
        profiles = read_profiles(where, schema, as_of=as_of)
    truth = true_propensities(pairs, profiles, policies, seed=seed)
    log = simulate_outcomes(truth, share=share, seed=seed, rounds=rounds)
    return World(schema, tuple(policies), profiles, pairs, truth, log, as_of)
