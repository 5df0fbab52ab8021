"""What the ``zhida rank`` commands share: their options, the progress of long steps, reading
a ranking's inputs (population, pairs, catalog) and the store of model versions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import click

from api.commands.options import population_option

__all__ = [
    "LOG_HINT",
    "PAIRS_HINT",
    "pairs_option",
    "policies_option",
    "population_option",
    "read_inputs",
    "registry",
    "save_model",
    "seed_option",
    "step",
]

PAIRS_HINT = "make one with `zhida match --population DIR --policies PATH --out FILE`"
LOG_HINT = "make one with `zhida rank outcomes`"

pairs_option = click.option(
    "--pairs", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="Pairs file written by `zhida match --out`.",
)  # fmt: skip
policies_option = click.option(
    "--policies", type=click.Path(path_type=Path), multiple=True,
    default=(Path(__file__).resolve().parents[2] / "rules" / "catalog",), show_default=False,
    help="Policy YAML file or catalog directory (repeatable; default: the built-in catalog).",
)  # fmt: skip
seed_option = click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")


@contextmanager
def step(what: str) -> Iterator[None]:
    """Say on stderr what is being done and how long it took (the progress of long steps)."""
    click.echo(f"{what} ...", err=True, nl=False)
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        click.echo(" failed", err=True)  # the error follows on its own line
        raise
    click.echo(f" {time.perf_counter() - started:.1f}s", err=True)


def read_inputs(population: Path, pairs_file: Path, policies: tuple[Path, ...], as_of: date) -> Any:
    import polars as pl

    from matcher.ranking.inputs import read_frame, read_profiles
    from profiles.schema import load_schema
    from rules.loader import load_catalog

    schema = load_schema()
    catalog = load_catalog(policies, schema)
    pairs = read_frame(pairs_file, "pairs", ("subject_id", "policy_id", "status"), PAIRS_HINT)
    if "subject_type" not in pairs.columns:
        pairs = pairs.with_columns(pl.lit("resident").alias("subject_type"))
    if "benefit" not in pairs.columns:
        pairs = pairs.with_columns(pl.lit(None, dtype=pl.Float64).alias("benefit"))
    profiles = read_profiles(population, schema, as_of=as_of)
    return schema, catalog.policies, pairs, profiles


def registry() -> Any:
    from core.settings import get_settings
    from matcher.ranking.registry import ModelRegistry

    return ModelRegistry(get_settings().data_dir / "models")


def save_model(
    model: Any, data: Any, profiles: Any, schema: Any, *, seed: int, metrics: dict[str, Any],
    as_of: date, extra: dict[str, Any],
) -> Any:  # fmt: skip
    """Store a trained model with its fairness figures (exposure by group in its top 20 %
    of held-out offers), which the published card (``zhida rank card``) reads back."""
    from matcher.ranking.exposure import held_out_exposure

    fairness = held_out_exposure(model, data, profiles, schema, as_of=as_of)
    return registry().save(
        model, seed=seed, data_hash=data.hash(), metrics=metrics,
        extra={**extra, "as_of": as_of.isoformat(), "fairness": fairness},
    )  # fmt: skip
